"""Medical-insurance settlement (R13, R14): a bill settled by the pooled fund (统筹), the
personal account (个人账户), a relative's employee personal account (共济) and cash.

- ``InsuranceSettlement``: one medical-insurance order for a patient's bills at one
  hospital. Its ``Payment`` (``kind`` medins) holds the bills live, as a cash payment
  does, so a bill is in one payment or settlement at a time. The split is written once,
  from the platform's pre-settlement (6202), before the payer confirms.
- ``InsuranceRefund``: the insurance part of a voided item, given back through 6203; the
  cash part of the same item is an ordinary ``Refund`` through WeChat Pay.
"""

import enum

from postpay.clock import utcnow
from postpay.extensions import UTCDateTime, db
from postpay.security import new_id
from postpay.statemachine import Transitions


class SettlementStatus(str, enum.Enum):
    quoting = "quoting"  #: bills taken, the platform not yet asked
    quoted = "quoted"  #: the split is known; waiting for the payer to confirm
    ordered = "ordered"  #: the WeChat medical-insurance order is placed; waiting for the payer
    settled = "settled"
    cancelled = "cancelled"
    failed = "failed"


TRANSITIONS = {
    SettlementStatus.quoting: {SettlementStatus.quoted, SettlementStatus.cancelled, SettlementStatus.failed},
    SettlementStatus.quoted: {SettlementStatus.ordered, SettlementStatus.cancelled},
    SettlementStatus.ordered: {SettlementStatus.settled, SettlementStatus.cancelled, SettlementStatus.failed},
    SettlementStatus.settled: set(),
    SettlementStatus.cancelled: set(),
    SettlementStatus.failed: set(),
}
#: Not settled yet, still holding its bills.
OPEN = (SettlementStatus.quoting, SettlementStatus.quoted, SettlementStatus.ordered)


class InsuranceSettlement(Transitions, db.Model):
    TRANSITIONS, STATE_LABEL, STATE_ERROR = TRANSITIONS, "医保结算", "SETTLEMENT_STATE"
    __tablename__ = "insurance_settlements"
    __table_args__ = (
        db.CheckConstraint(
            "fee_sum_fen IS NULL OR fee_sum_fen = fund_pay_fen + psn_acct_pay_fen + acct_mulaid_pay_fen + own_pay_fen",
            name="split_adds_up",
        ),
        db.Index("ix_insurance_settlements_status_ordered_at", "status", "ordered_at"),
    )

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("is"))
    payment_id = db.Column(db.String(32), db.ForeignKey("payments.id"), nullable=False, unique=True)
    patient_id = db.Column(db.String(32), db.ForeignKey("patients.id"), nullable=False, index=True)
    #: 共济: the relative whose employee personal account pays for the patient.
    mutual_aid_patient_id = db.Column(db.String(32), db.ForeignKey("patients.id"))
    hospital_id = db.Column(db.String(32), db.ForeignKey("hospitals.id"), nullable=False)
    status = db.Column(db.Enum(SettlementStatus, native_enum=False, length=16), nullable=False)
    #: The platform's order (6201) and its token for the later calls.
    pay_ord_id = db.Column(db.String(64), unique=True)
    pay_token = db.Column(db.String(128))
    #: The split (6202), in fen, written once.
    fee_sum_fen = db.Column(db.BigInteger)
    fund_pay_fen = db.Column(db.BigInteger)
    psn_acct_pay_fen = db.Column(db.BigInteger)
    acct_mulaid_pay_fen = db.Column(db.BigInteger)
    own_pay_fen = db.Column(db.BigInteger)
    #: CASH_AND_INSURANCE / INSURANCE_ONLY / CASH_ONLY
    mix_pay_type = db.Column(db.String(24))
    #: The JSAPI order the cash part is paid through (None without a cash part).
    cash_order_id = db.Column(db.String(32), db.ForeignKey("payment_orders.id"))
    #: WeChat's number for the medical-insurance order: applied once.
    mix_trade_no = db.Column(db.String(64), unique=True)
    #: The platform's settlement id (6301), once settled.
    setl_id = db.Column(db.String(64))
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    ordered_at = db.Column(UTCDateTime)
    settled_at = db.Column(UTCDateTime)
    cancelled_at = db.Column(UTCDateTime)

    payment = db.relationship("Payment")
    patient = db.relationship("Patient", foreign_keys=[patient_id])
    mutual_aid_patient = db.relationship("Patient", foreign_keys=[mutual_aid_patient_id])
    hospital = db.relationship("Hospital")
    cash_order = db.relationship("PaymentOrder")

    @property
    def insurance_fen(self):
        return (self.fund_pay_fen or 0) + (self.psn_acct_pay_fen or 0) + (self.acct_mulaid_pay_fen or 0)


class InsuranceRefundStatus(str, enum.Enum):
    requested = "requested"
    succeeded = "succeeded"
    failed = "failed"  #: the platform refused (an alert went out)


REFUND_TRANSITIONS = {
    InsuranceRefundStatus.requested: {InsuranceRefundStatus.succeeded, InsuranceRefundStatus.failed},
    InsuranceRefundStatus.succeeded: set(),
    InsuranceRefundStatus.failed: set(),
}


class InsuranceRefund(Transitions, db.Model):
    """The insurance part of a voided item (R12) of a settled bill, refunded through 6203."""

    TRANSITIONS, STATE_LABEL, STATE_ERROR = REFUND_TRANSITIONS, "医保退款", "INSURANCE_REFUND_STATE"
    __tablename__ = "insurance_refunds"
    __table_args__ = (db.CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("ir"))
    settlement_id = db.Column(db.String(32), db.ForeignKey("insurance_settlements.id"), nullable=False, index=True)
    bill_id = db.Column(db.String(32), db.ForeignKey("bills.id"), nullable=False, index=True)
    item_id = db.Column(db.String(32), db.ForeignKey("items.id"), nullable=False, unique=True)
    #: Our refund number at the platform (appRefdSn): the same number is one refund.
    app_refd_sn = db.Column(db.String(64), nullable=False, unique=True)
    amount_fen = db.Column(db.BigInteger, nullable=False)
    reason = db.Column(db.String(200), nullable=False)
    status = db.Column(
        db.Enum(InsuranceRefundStatus, native_enum=False, length=16),
        nullable=False,
        default=InsuranceRefundStatus.requested,
    )
    #: How the platform gave it back (6203's answer).
    trx_sn = db.Column(db.String(64))
    fund_refd_fen = db.Column(db.BigInteger)
    psn_acct_refd_fen = db.Column(db.BigInteger)
    mulaid_refd_fen = db.Column(db.BigInteger)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    settled_at = db.Column(UTCDateTime)
