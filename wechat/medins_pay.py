"""The medical-insurance mobile-payment interfaces (医保移动支付), in the envelope of ``medins``:

- 6201 upload the fee details (费用明细上传) -> ``payOrdId``, ``payToken``
- 6401 revoke the upload (费用明细上传撤销)
- 6202 pre-settle / place the payment order (支付下单) -> the split
- 6301 query the settlement result (医保订单结算结果查询)
- 6203 refund (医保退费)

Amounts at this boundary are yuan strings with two decimals; everywhere else integer
fen. :func:`yuan` and :func:`fen` convert exactly, through ``Decimal`` and strings only.
"""

import datetime as dt
from decimal import Decimal, InvalidOperation

from wechat.medins import MedinsClient, MedinsError

PATHS = {
    "6201": "/org/local/api/hos/uldFeeInfo",
    "6401": "/org/local/api/hos/revoke_order",
    "6202": "/org/local/api/hos/pay_order",
    "6301": "/org/local/api/hos/query_order_info",
    "6203": "/org/local/api/hos/refund_Order",
}
#: Order states (ordStas) the platform reports, in our words.
ORDER_STATES = {
    "0": "uploaded",  # 已保存: fee details uploaded
    "1": "ordered",  # 预结算完成: pre-settled, waiting for the payer
    "2": "settling",  # 结算中
    "4": "settled",  # 结算完成
    "5": "failed",  # 结算失败
    "6": "revoked",  # 已撤销
    "7": "refunded",  # 已退款 (in part or in full)
}
#: 险种: the employee scheme (职工基本医疗保险) and the resident scheme.
INSUTYPES = {"employee": "310", "resident": "390"}
SPLIT_FIELDS = {
    "feeSumamt": "fee_sum_fen",
    "fundPay": "fund_pay_fen",
    "psnAcctPay": "psn_acct_pay_fen",
    "acctMulaidPay": "acct_mulaid_pay_fen",
    "ownPayAmt": "own_pay_fen",
}
CENT = Decimal("0.01")
#: China Standard Time, in which the platform writes its times.
CST = dt.timezone(dt.timedelta(hours=8))


def yuan(fen_amount):
    """Integer fen -> the platform's yuan string with two decimals: 12345 -> ``"123.45"``."""
    if isinstance(fen_amount, bool) or not isinstance(fen_amount, int):
        raise TypeError("fen must be an int, not %s" % type(fen_amount).__name__)
    sign = "-" if fen_amount < 0 else ""
    whole, cents = divmod(abs(fen_amount), 100)
    return "%s%d.%02d" % (sign, whole, cents)


def fen(yuan_amount):
    """The platform's yuan (string, int or Decimal; never float) -> integer fen, exactly.

    Raises MedinsError (AMOUNT) for a float, a non-number or more than two decimals.
    """
    if isinstance(yuan_amount, (float, bool)):
        raise MedinsError("AMOUNT", "float amounts are refused: %r" % (yuan_amount,))
    try:
        value = Decimal(str(yuan_amount).strip())
        exact = value.is_finite() and value == value.quantize(CENT)
    except InvalidOperation:  # not a number, or too large to quantize
        exact = False
    if not exact:
        raise MedinsError("AMOUNT", "not a yuan amount with at most two decimals: %r" % (yuan_amount,))
    return int(value * 100)


def split_of(data):
    """The platform's split in our words: ``{"fee_sum_fen", "fund_pay_fen", ...}``, checked to add up.

    Raises MedinsError (AMOUNT) when the parts do not make the fee sum.
    """
    split = {ours: fen(data.get(theirs) or "0") for theirs, ours in SPLIT_FIELDS.items()}
    parts = split["fund_pay_fen"] + split["psn_acct_pay_fen"] + split["acct_mulaid_pay_fen"] + split["own_pay_fen"]
    if parts != split["fee_sum_fen"] or min(split.values()) < 0:
        raise MedinsError("AMOUNT", "the split does not add up to feeSumamt")
    return split


def _when(at):
    """A moment as the platform writes it: ``yyyyMMddHHmmss`` (China Standard Time, given aware)."""
    return at.astimezone(CST).strftime("%Y%m%d%H%M%S")


class MedinsPay(MedinsClient):
    """The payment interfaces on top of the envelope client. Every call names the hospital's own
    定点医药机构编号 (``org``: ``orgCodg``), not one global code. Field names follow the public
    integrations listed in docs/insurance.md."""

    def upload_fees(self, org, order, person, items, mulaid=None):
        """6201: the fee details of one order.

        ``order``: ``{"no", "pay_auth_no", "latlnt", "dept", "begin"}`` (``no`` is our medOrgOrd
        and chrgBchno; ``begin`` an aware datetime); ``person``/``mulaid``: ``{"name", "id_number",
        "insurance_type", "psn_no", "insured_region"}``; ``items``: ``[{"no", "name", "category",
        "quantity_milli", "unit_price_fen", "amount_fen"}]``. Returns ``{"pay_ord_id", "pay_token"}``."""
        begin = _when(order["begin"])
        data = {
            "orgCodg": org,
            "medOrgOrd": order["no"],
            "chrgBchno": order["no"],
            "iptOtpNo": order["no"],
            "payAuthNo": order["pay_auth_no"],
            "uldLatlnt": order["latlnt"],
            "psnNo": person["psn_no"],
            "insutype": INSUTYPES.get(person["insurance_type"], "999"),
            "insuCode": person["insured_region"],
            "insuplcAdmdvs": person["insured_region"],
            "mdtrtCertType": "01",  # 电子凭证
            "idNo": person["id_number"],
            "userName": person["name"],
            "idType": "01",  # 居民身份证
            "begntime": begin,
            "medType": "11",  # 普通门诊
            "feeType": "01",
            "psnSetlway": "01",  # 按项目结算
            "acctUsedFlag": "1",
            "pubHospRfomFlag": "0",
            "deptName": order["dept"],
            "deptCode": order["dept"],
            "caty": order["dept"],
            "medfeeSumamt": yuan(sum(i["amount_fen"] for i in items)),
            "feedetailList": [
                {
                    "feedetlSn": i["no"],
                    "chrgBchno": order["no"],
                    "feeOcurTime": begin,
                    "medListCodg": i["category"],
                    "medinsListCodg": i["category"],
                    "medListName": i["name"],
                    "cnt": "%d.%03d" % divmod(i["quantity_milli"], 1000),
                    "pric": yuan(i["unit_price_fen"]),
                    "detItemFeeSumamt": yuan(i["amount_fen"]),
                    "rxCircFlag": "0",
                }
                for i in items
            ],
        }
        if mulaid is not None:  # 共济: a relative's employee personal account pays too (unverified names)
            data |= {
                "acctMulaidFlag": "1",
                "mulaidPsnName": mulaid["name"],
                "mulaidCertno": mulaid["id_number"],
                "mulaidInsutype": INSUTYPES.get(mulaid["insurance_type"], "999"),
            }
        answer = self.call(PATHS["6201"], data)
        return {"pay_ord_id": answer["payOrdId"], "pay_token": answer["payToken"]}

    def revoke_upload(self, org, pay_ord_id, pay_token, person):
        """6401: withdraw an upload that was not settled. Raises MedinsError."""
        self.call(PATHS["6401"], {"orgCodg": org, "payOrdId": pay_ord_id, "payToken": pay_token} | _who(person))

    def pre_settle(self, org, pay_ord_id, pay_token, pay_auth_no, order_no):
        """6202: the split for an uploaded order (``split_of``), with ``pay_ord_id``."""
        data = {
            "orgCodg": org,
            "payOrdId": pay_ord_id,
            "payToken": pay_token,
            "payAuthNo": pay_auth_no,
            "chrgBchno": order_no,
            "orgBizSer": order_no,
            "feeType": "01",
            "acctUsedFlag": "1",
        }
        answer = self.call(PATHS["6202"], data)
        return split_of(answer) | {"pay_ord_id": answer["payOrdId"]}

    def query_order(self, org, pay_ord_id, pay_token, person):
        """6301: ``{"state"}`` (a value of ORDER_STATES) plus the split and ``setl_id`` once settled."""
        answer = self.call(
            PATHS["6301"], {"orgCodg": org, "payOrdId": pay_ord_id, "payToken": pay_token} | _who(person)
        )
        found = {"state": ORDER_STATES.get(str(answer.get("ordStas")), "unknown"), "setl_id": answer.get("setlId")}
        return found | (split_of(answer) if answer.get("feeSumamt") is not None else {})

    def refund(self, pay_ord_id, refund_no, fund_fen, psn_acct_fen, pay_auth_no, reason, at):
        """6203: give the insurance part back (``refdType`` HI: the fund and the personal accounts;
        the cash part goes back through WeChat Pay). ``at``: the refund's moment (appRefdTime).
        Returns ``{"trx_sn", "fund_refd_fen", "psn_acct_refd_fen", "mulaid_refd_fen"}``; the same
        ``refund_no`` twice is one refund. Raises MedinsError (also for refStatus FAIL or EXP)."""
        data = {
            "payOrdId": pay_ord_id,
            "appRefdSn": refund_no,
            "appRefdTime": _when(at),
            "totlRefdAmt": yuan(fund_fen + psn_acct_fen),
            "fundRefdAmt": yuan(fund_fen),
            "psnAcctRefdAmt": yuan(psn_acct_fen),
            "cashRefdAmt": yuan(0),
            "payAuthNo": pay_auth_no,
            "refdType": "HI",
            "expContent": reason,
        }
        answer = self.call(PATHS["6203"], data)
        if answer.get("refStatus") != "SUCC":
            raise MedinsError("REFUND_%s" % answer.get("refStatus"), "6203 refStatus %s" % answer.get("refStatus"))
        parts = {
            "fund_refd_fen": fen(answer.get("fundRefdAmt") or "0"),
            "psn_acct_refd_fen": fen(answer.get("psnAcctRefdAmt") or "0"),
            "mulaid_refd_fen": fen(answer.get("acctMulaidRefdAmt") or "0"),
        }
        if sum(parts.values()) != fund_fen + psn_acct_fen:
            raise MedinsError("AMOUNT", "the refund parts do not add up to totlRefdAmt")
        return {"trx_sn": answer.get("trxSn") or refund_no} | parts


def _who(person):
    """The person fields 6301 and 6401 carry (idNo, userName, idType)."""
    return {"idNo": person["id_number"], "userName": person["name"], "idType": "01"}
