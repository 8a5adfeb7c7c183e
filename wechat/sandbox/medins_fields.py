"""The fields each settlement transaction's ``input`` (the envelope's data) may carry, as the
public integrations send them (sources per field in docs/insurance.md): required and optional
names, each with its kind. ``refusal(infno, data)`` is the platform's answer to a missing, extra
or ill-formed field, or None.

Kinds: ``str`` a non-empty string; ``yuan`` a yuan amount written with exactly two decimals
(``"0.00"``); ``num`` a decimal number as a string; ``time`` ``yyyyMMddHHmmss``; ``list`` a
non-empty list of objects (``feedetailList``: each checked against ``FEE_DETAIL``)."""

import re

KINDS = {
    "str": lambda v: isinstance(v, str) and v.strip() != "",
    "yuan": lambda v: isinstance(v, str) and re.fullmatch(r"\d{1,12}\.\d{2}", v) is not None,
    "num": lambda v: isinstance(v, str) and re.fullmatch(r"\d{1,12}(\.\d{1,6})?", v) is not None,
    "time": lambda v: isinstance(v, str) and re.fullmatch(r"\d{14}", v) is not None,
    "list": lambda v: isinstance(v, list) and len(v) > 0 and all(isinstance(x, dict) for x in v),
}


def _kinds(names, kind="str"):
    return dict.fromkeys(names.split(), kind)


FEE_DETAIL = {
    "required": _kinds("feedetlSn chrgBchno medListCodg medinsListCodg")
    | {"feeOcurTime": "time", "cnt": "num", "pric": "yuan", "detItemFeeSumamt": "yuan"},
    "optional": _kinds("medListName rxCircFlag medType psnNo bilgDeptCodg bilgDeptName bilgDrCodg bilgDrName")
    | _kinds("hospApprFlag"),
}
#: infno -> {"required", "optional", "one_of"}: ``one_of`` names exactly one of which must be there.
FIELDS = {
    "6201": {
        "required": _kinds("orgCodg medOrgOrd chrgBchno iptOtpNo psnNo insutype insuCode insuplcAdmdvs")
        | _kinds("mdtrtCertType idNo userName idType medType feeType psnSetlway acctUsedFlag pubHospRfomFlag")
        | _kinds("deptName deptCode caty uldLatlnt")
        | {"begntime": "time", "medfeeSumamt": "yuan", "feedetailList": "list"},
        "optional": _kinds("mdtrtId diseCodg diseName acctMulaidFlag mulaidPsnName mulaidCertno mulaidInsutype")
        | {"diseinfoList": "list", "fulamtOwnpayAmt": "yuan", "preselfpayAmt": "yuan", "inscpScpAmt": "yuan"},
        "one_of": _kinds("payAuthNo ecToken"),
    },
    "6202": {
        "required": _kinds("orgCodg payOrdId payToken payAuthNo chrgBchno orgBizSer feeType acctUsedFlag"),
        "optional": _kinds("mdtrtId"),
    },
    "6301": {"required": _kinds("orgCodg payOrdId payToken idNo userName idType"), "optional": {}},
    "6401": {"required": _kinds("orgCodg payOrdId payToken idNo userName idType"), "optional": _kinds("expContent")},
    "6203": {
        "required": _kinds("payOrdId appRefdSn refdType")
        | {"appRefdTime": "time", "totlRefdAmt": "yuan", "cashRefdAmt": "yuan"},
        "optional": {"fundRefdAmt": "yuan", "psnAcctRefdAmt": "yuan", "expContent": "str"},
        "one_of": _kinds("payAuthNo ecToken"),
    },
}
#: The platform's answer code for an input that breaks the field list.
BAD_INPUT = 1003


def _check(spec, data, where):
    allowed = spec["required"] | spec["optional"] | spec.get("one_of", {})
    for name in sorted(data):
        if name not in allowed:
            return "%s不允许的字段%s" % (where, name)
    for name in spec["required"]:
        if name not in data:
            return "%s缺少必填字段%s" % (where, name)
    for name, kind in allowed.items():
        if name in data and data[name] is not None and not KINDS[kind](data[name]):
            return "%s字段%s格式错误%s" % (where, name, "（金额须为两位小数的元，如0.00）" if kind == "yuan" else "")
    given = [n for n in spec.get("one_of", {}) if data.get(n)]
    if spec.get("one_of") and len(given) != 1:
        return "%s%s须且只能填写一个" % (where, "/".join(spec["one_of"]))
    return None


def refusal(infno, data):
    """``(code, message)`` for an input that breaks the list of ``infno``, or None."""
    if not isinstance(data, dict):
        return BAD_INPUT, "入参须为JSON对象"
    problem = _check(FIELDS[infno], data, "")
    if problem is None and infno == "6201":
        for n, detail in enumerate(data["feedetailList"]):
            problem = problem or _check(FEE_DETAIL, detail, "feedetailList[%d]" % n)
    return (BAD_INPUT, "参数校验失败：" + problem) if problem else None
