"""Who may use post-pay (R1-R5, R9): every failing reason, each with a stable code."""

from dataclasses import dataclass

from flask import current_app

from postpay.accounts.identity import age_on
from postpay.clock import today
from postpay.contracts.models import Contract, ContractStatus
from postpay.credit.service import is_suspended
from postpay.extensions import db

MIN_AGE = 14  # R5
#: R1: the city's basic medical insurance schemes.
SCHEMES = ("employee", "resident")


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    rule: str

    def as_json(self):
        return {"code": self.code, "message": self.message}


NOT_VERIFIED = Reason("NOT_VERIFIED", "尚未通过医保电子凭证实名认证", "R1")
NOT_LOCAL = Reason("NOT_LOCAL_INSURED", "仅支持本市参保人员使用先诊疗后付费", "R1")
SCHEME = Reason("INSURANCE_TYPE", "仅支持职工基本医疗保险和城乡居民基本医疗保险参保人员", "R1")
STATUS = Reason("INSURED_STATUS_ABNORMAL", "医保参保状态不正常", "R1")
AGE = Reason("UNDER_AGE", "未满14周岁，暂不能使用先诊疗后付费", "R5")
ARREARS = Reason("ARREARS", "存在先诊疗后付费恶意欠费记录，信用修复前不能使用", "R3")
NO_CONTRACT = Reason("NO_CONTRACT", "尚未签约先诊疗后付费", "R9")


def active_contract(patient_id):
    query = db.select(Contract).where(Contract.patient_id == patient_id, Contract.status == ContractStatus.active)
    return db.session.execute(query).scalar_one_or_none()


def evaluate(patient, on=None, need_contract=True):
    """Every reason ``patient`` may not use post-pay on day ``on`` (empty: eligible).

    With ``need_contract=False`` the contract is not asked for: the question is
    then "may this patient sign". Raises nothing.
    """
    on = on or today()
    reasons = []
    if patient.verified_at is None:
        reasons.append(NOT_VERIFIED)
    else:
        regions = current_app.config["POSTPAY_INSURED_REGIONS"]
        if patient.insured_region not in regions:
            reasons.append(NOT_LOCAL)
        if patient.insurance_type not in SCHEMES:
            reasons.append(SCHEME)
        if patient.insured_status != "normal":
            reasons.append(STATUS)
    if age_on(patient.birth_date, on) < MIN_AGE:
        reasons.append(AGE)
    if is_suspended(patient.id):
        reasons.append(ARREARS)
    if need_contract and active_contract(patient.id) is None:
        reasons.append(NO_CONTRACT)
    return reasons
