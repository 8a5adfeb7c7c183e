"""Confirming a quoted settlement (R13): the payer's checks, then the medical-insurance
channel places the orders (``channels/medins/orders.py`` ``place``)."""

from postpay import authz
from postpay.accounts.models import APP_MINI
from postpay.billing.models import Bill
from postpay.errors import Conflict
from postpay.extensions import db
from postpay.insurance.models import SettlementStatus
from postpay.insurance.service import OnHold, settlement_for
from postpay.payments.channels import medins


def confirm(user, settlement_id, now, app=APP_MINI):
    """The payer accepts the split: the WeChat medical-insurance order is placed (once), in the app
    the payer signed in with (``app``: the mini-program or the official account).

    The payer's right to pay for the patient, and to spend the 共济 account, is asked again
    here: a binding revoked since the quote ends it (the same answer as for a stranger).

    Raises NotFound, Forbidden (PERMISSION_DENIED, NOT_VERIFIED), Conflict (MUTUAL_AID_NOT_ALLOWED),
    Conflict (SETTLEMENT_STATE), OnHold (R14), Upstream.
    """
    settlement = settlement_for(user, settlement_id, lock=True)
    medins.check_payer(user, settlement.patient_id, settlement.mutual_aid_patient_id)
    if settlement.status == SettlementStatus.ordered:
        return settlement
    if settlement.status != SettlementStatus.quoted:
        raise Conflict("医保结算状态为%s，不能确认" % settlement.status.value, code="SETTLEMENT_STATE")
    bills = db.session.execute(
        db.select(Bill).where(Bill.id.in_([s.bill_id for s in settlement.payment.bills])).with_for_update()
    ).scalars()
    if any(b.hold_reason for b in bills):
        raise OnHold()  # R14: admitted since the quote
    return medins.place(settlement, user, authz.own_patient(user), now, app)
