"""The medical-insurance platform's payment interfaces (6201, 6401, 6202, 6301, 6203) in the
sandbox, in the SM4/SM2 envelope, with a split rule set by ``POST /sandbox/medins/split-rule``.

The rule: the pooled fund pays ``fund_ratio_pct`` percent of the fee sum (rounded down to
the fen); of the rest, an employee's personal account pays up to ``psn_acct_balance_fen``,
then a 共济 relative's employee account up to ``mulaid_balance_fen``; the payer pays the
rest in cash. A resident (390) has no personal account. Amounts on the wire are yuan.

Each transaction's input is checked against its field list (``medins_fields``) first: a missing,
extra or ill-formed field gets the platform's error answer (code 1003). The payAuthNo of 6202 and
6203 must be the one the fees were uploaded with (6201).
"""

import json
import secrets
import time

from flask import current_app, jsonify, request

from wechat.sandbox import envelope, medins_fields
from wechat.sandbox.common import OBJ, redis, route
from wechat.sandbox.envelope import EMPLOYEE, fen, yuan
from wechat.sandbox.medins import CERT_KEY

DEFAULT_RULE = {"fund_ratio_pct": 60, "psn_acct_balance_fen": 10000, "mulaid_balance_fen": 100000}
RULE_KEY, TTL = "sbx:medins:rule", 7 * 86400
NUM = {"type": "integer", "minimum": 0, "maximum": 10**10}
RULE = {
    "type": "object",
    "properties": {"fund_ratio_pct": {"type": "integer", "minimum": 0, "maximum": 100}}
    | {k: NUM for k in ("psn_acct_balance_fen", "mulaid_balance_fen")},
}
PARTS = ("fundPay", "psnAcctPay", "acctMulaidPay")


def rule():
    raw = redis().get(RULE_KEY)
    return DEFAULT_RULE | (json.loads(raw) if raw else {})


@route("/medins/split-rule", ["POST"], "Sandbox: how the platform splits a fee sum", body=RULE, answer=RULE)
def medins_split_rule():
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict) or any(k not in DEFAULT_RULE or type(v) is not int or v < 0 for k, v in body.items()):
        return jsonify({"error": {"code": "VALIDATION_ERROR", "message": "规则字段为非负整数"}}), 422
    if body.get("fund_ratio_pct", 0) > 100:
        return jsonify({"error": {"code": "VALIDATION_ERROR", "message": "统筹比例不超过100"}}), 422
    redis().set(RULE_KEY, json.dumps(rule() | body), ex=TTL)
    return jsonify(rule())


def load(pay_ord_id):
    raw = redis().get("sbx:medins:ord:%s" % pay_ord_id)
    return json.loads(raw) if raw else None


def save(order):
    redis().set("sbx:medins:ord:%s" % order["payOrdId"], json.dumps(order, ensure_ascii=False), ex=TTL)


def settle(pay_ord_id):
    """The payer paid in WeChat: the platform settles the order. Returns it, or None when it cannot."""
    order = load(pay_ord_id)
    if order is None or order["ordStas"] not in ("1", "4"):
        return None
    if order["ordStas"] == "1":
        order["ordStas"], order["setlId"] = "4", "SETL%s" % secrets.token_hex(10).upper()
        save(order)
    return order


def _reply(data=None, code=0, message="成功"):
    if code:
        return jsonify({"code": code, "message": message})
    cfg = current_app.config
    sealed = envelope.seal(
        data, cfg["SANDBOX_MEDINS_APP_ID"], cfg["SANDBOX_MEDINS_APP_SECRET"], cfg["SANDBOX_MEDINS_PLATFORM_PRIVATE_KEY"]
    )
    return jsonify({"code": 0, "message": message, **sealed})


def _opened(infno):
    """The request's data, or an error reply (bad envelope, unknown app, bad signature, a field
    list broken)."""
    cfg = current_app.config
    sealed = request.get_json(force=True, silent=True)
    if not isinstance(sealed, dict):
        return None, _reply(code=-1, message="报文格式错误")
    if sealed.get("appId") != cfg["SANDBOX_MEDINS_APP_ID"]:
        return None, _reply(code=1001, message="appId不存在")
    try:
        data = envelope.unseal(sealed, cfg["SANDBOX_MEDINS_APP_SECRET"], cfg["SANDBOX_MEDINS_APP_PUBLIC_KEY"])
    except envelope.EnvelopeError as e:
        return None, _reply(code=1002, message="验签失败: %s" % e)
    bad = medins_fields.refusal(infno, data)
    return (None, _reply(code=bad[0], message=bad[1])) if bad else (data, None)


def _order_of(data):
    order = load(data.get("payOrdId", ""))
    if order is None or order["payToken"] != data.get("payToken", order["payToken"]):
        return None
    return order


def _api(path, summary):
    return route("/medins/api/org/local/api/hos/" + path, ["POST"], "Medical insurance: " + summary, body=OBJ)


def _cert_problem(data):
    """6201 acts for the person behind its payAuthNo (or ecToken), as userQuery minted it
    (``sbx:medins:cert:<no>``, kept by the identity side): ``(code, message)`` when the number is
    unknown, expired, or another person's than idNo/userName/psnNo; else None."""
    raw = redis().get(CERT_KEY % (data.get("payAuthNo") or data.get("ecToken")))
    if raw is None:
        return 2103, "支付授权码无效"
    cert = json.loads(raw)
    if cert["expires_at"] <= time.time():
        return 2104, "支付授权码已过期"
    person = cert["person"]
    if (person["certno"], person["psn_name"], person["psn_no"]) != (data["idNo"], data["userName"], data["psnNo"]):
        return 2105, "支付授权码与参保人信息不一致"
    return None


@_api("uldFeeInfo", "6201 upload fee details")
def medins_upload():
    data, err = _opened("6201")
    if err:
        return err
    if (problem := _cert_problem(data)) is not None:
        return _reply(code=problem[0], message=problem[1])
    total = fen(data["medfeeSumamt"])
    if total <= 0 or sum(fen(d["detItemFeeSumamt"]) for d in data["feedetailList"]) != total:
        return _reply(code=2102, message="费用明细合计与总金额不符")
    if data.get("acctMulaidFlag") == "1" and data.get("mulaidInsutype") != EMPLOYEE:
        return _reply(code=2101, message="共济人须为职工医保参保人")
    known = redis().get("sbx:medins:ordno:%s" % data.get("medOrgOrd"))
    order = load(known.decode()) if known else None
    if order is None or order["ordStas"] == "6":
        order = {"payOrdId": "ORD%s" % secrets.token_hex(12).upper(), "payToken": secrets.token_hex(16)}
        redis().set("sbx:medins:ordno:%s" % data.get("medOrgOrd"), order["payOrdId"], ex=TTL)
    order |= {"ordStas": "0", "feeSumamt": yuan(total), "request": data, "refunds": {}}
    save(order)
    return _reply({"payOrdId": order["payOrdId"], "payToken": order["payToken"], "feeSumamt": order["feeSumamt"]})


@_api("pay_order", "6202 pre-settle and place the payment order")
def medins_pre_settle():
    data, err = _opened("6202")
    if err:
        return err
    order = _order_of(data)
    if order is None or order["ordStas"] not in ("0", "1"):
        return _reply(code=2201, message="订单不存在或状态不允许预结算")
    if data["payAuthNo"] != order["request"].get("payAuthNo") or data["orgCodg"] != order["request"]["orgCodg"]:
        return _reply(code=2202, message="支付授权码或机构编号与费用上传不一致")
    r, req, total = rule(), order["request"], fen(order["feeSumamt"])
    fund = total * r["fund_ratio_pct"] // 100
    psn = min(total - fund, r["psn_acct_balance_fen"]) if req.get("insutype") == EMPLOYEE else 0
    mulaid = min(total - fund - psn, r["mulaid_balance_fen"]) if req.get("acctMulaidFlag") == "1" else 0
    split = {"fundPay": fund, "psnAcctPay": psn, "acctMulaidPay": mulaid, "ownPayAmt": total - fund - psn - mulaid}
    order |= {"ordStas": "1"} | {k: yuan(v) for k, v in split.items()}
    save(order)
    return _reply({k: order[k] for k in ("payOrdId", "ordStas", "feeSumamt", *PARTS, "ownPayAmt")})


@_api("query_order_info", "6301 query the settlement result")
def medins_query_order():
    data, err = _opened("6301")
    if err:
        return err
    order = _order_of(data)
    if order is None:
        return _reply(code=2301, message="订单不存在")
    fields = ("payOrdId", "ordStas", "setlId", "feeSumamt", *PARTS, "ownPayAmt")
    return _reply({k: order[k] for k in fields if k in order})


@_api("revoke_order", "6401 revoke an upload")
def medins_revoke():
    data, err = _opened("6401")
    if err:
        return err
    order = _order_of(data)
    if order is None:
        return _reply(code=2401, message="订单不存在")
    if order["ordStas"] in ("4", "7"):
        return _reply(code=2402, message="订单已结算，不能撤销")
    order["ordStas"] = "6"
    save(order)
    return _reply({"payOrdId": order["payOrdId"], "ordStas": "6"})


@_api("refund_Order", "6203 refund the insurance part")
def medins_refund():
    data, err = _opened("6203")
    if err:
        return err
    order = _order_of(data)
    if order is None or order["ordStas"] not in ("4", "7"):
        return _reply(code=2501, message="订单未结算，不能退费")
    if data.get("payAuthNo", order["request"].get("payAuthNo")) != order["request"].get("payAuthNo"):
        return _reply(code=2504, message="支付授权码与原结算不一致")
    sn = data["appRefdSn"]
    if sn in order["refunds"]:
        return _reply(order["refunds"][sn])
    asked = {k: fen(data.get(k) or "0.00") for k in ("fundRefdAmt", "psnAcctRefdAmt", "cashRefdAmt")}
    amount = fen(data["totlRefdAmt"])
    if sum(asked.values()) != amount or (data["refdType"] == "HI" and asked["cashRefdAmt"]):
        return _reply(code=2502, message="退费金额各部分之和与总退费金额不符")
    if data["refdType"] != "HI":
        return _reply(code=2505, message="沙箱只办理医保部分退费（refdType=HI）")
    done = {k: sum(fen(r[k.replace("Pay", "RefdAmt")]) for r in order["refunds"].values()) for k in PARTS}
    left = {k: fen(order[k]) - done[k] for k in PARTS}
    # The personal accounts' share: the patient's own account first, then the 共济 relative's.
    own = min(asked["psnAcctRefdAmt"], left["psnAcctPay"])
    back = {"fundPay": asked["fundRefdAmt"], "psnAcctPay": own, "acctMulaidPay": asked["psnAcctRefdAmt"] - own}
    if amount <= 0 or any(back[k] > left[k] for k in PARTS):
        return _reply(code=2503, message="退费金额超过可退金额")
    record = {"appRefdSn": sn, "refStatus": "SUCC", "trxSn": "TRX%s" % secrets.token_hex(10).upper()}
    record |= {"totlRefdAmt": yuan(amount), "cashRefdAmt": "0.00"}
    record |= {k.replace("Pay", "RefdAmt"): yuan(v) for k, v in back.items()}
    order["refunds"][sn], order["ordStas"] = record, "7"
    save(order)
    return _reply(record)
