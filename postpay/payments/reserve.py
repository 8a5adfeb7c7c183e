"""Taking bills for a payment, the same way for every channel (WeChat cash, medical insurance).

A bill is in one live payment at a time. Of twenty payers racing for one bill exactly one
gets it: the bills are locked in id order (``SELECT ... FOR UPDATE`` on PostgreSQL), and a
partial unique index on live shares turns a lost race into BILL_NOT_PAYABLE. Each channel
calls these steps in its own order, around its own checks.
"""

from sqlalchemy.exc import IntegrityError

from postpay import authz
from postpay.accounts.models import Patient, User
from postpay.api import iso
from postpay.billing.models import Bill, BillStatus
from postpay.errors import DomainError, NotFound
from postpay.extensions import db
from postpay.family.models import Binding, BindingStatus
from postpay.payments.models import MICROPAY_OPEN, MicropayAttempt, Payment, PaymentBill, PaymentKind
from postpay.security import mask_name

#: The one answer for a bill that does not exist and for another family's.
MISSING_BILL = "未找到该账单"


class NotPayable(DomainError):
    status, code, message = 409, "BILL_NOT_PAYABLE", "账单不可支付：已在其他支付中、已支付或尚未结算"


def lock_bills(user, bill_ids):
    """The bills, locked in id order, that ``user`` may pay. Raises NotFound (a missing bill and
    another family's alike), Forbidden (a relative without ``pay``)."""
    query = db.select(Bill).where(Bill.id.in_(bill_ids)).order_by(Bill.id).with_for_update()
    bills = db.session.execute(query).scalars().all()
    if len(bills) != len(bill_ids):
        raise NotFound(MISSING_BILL)
    authz.require_all(user, {b.patient_id for b in bills}, "pay", MISSING_BILL)  # one query for every bill
    return bills


def check_due(bills, user=None):
    """Raises NotPayable unless every bill is due with something to pay."""
    if any(b.status != BillStatus.due or b.total_fen <= 0 for b in bills):
        raise not_payable([b.id for b in bills], user)


def check_free(bill_ids, user=None):
    """Raises NotPayable when a bill is already live in another payment or settlement."""
    taken = db.session.execute(
        db.select(PaymentBill.bill_id).where(PaymentBill.bill_id.in_(bill_ids), PaymentBill.live.is_(True))
    ).first()
    if taken:
        raise not_payable(bill_ids, user)
    at_window = db.session.execute(  # a window micropay of the bill may still take the money
        db.select(MicropayAttempt.id).where(
            MicropayAttempt.bill_id.in_(bill_ids), MicropayAttempt.status.in_(MICROPAY_OPEN)
        )
    ).first()
    if at_window:
        raise not_payable(bill_ids, user)


#: What the holder is to the asker, read from a binding the holder made to the asker.
INVERSE = {"parent": "child", "child": "parent", "spouse": "spouse", "other": "other"}


def not_payable(bill_ids, user=None):
    """NotPayable saying, for each of ``bill_ids`` that cannot be paid now, why and until when:
    ``{"bills": [{"id", "reason", "until", "held_by"?}]}``. ``held_by`` (``{"relationship", "name"}``,
    masked) names another family member whose pending payment or quote holds the bill; ``user``
    is the asker. Read only when refusing, in a few queries whatever the number of bills."""
    bills = db.session.execute(
        db.select(Bill.id, Bill.status, Bill.total_fen).where(Bill.id.in_(bill_ids)).order_by(Bill.id)
    ).all()
    live = {
        row.bill_id: row
        for row in db.session.execute(
            db.select(PaymentBill.bill_id, Payment.kind, Payment.expires_at, Payment.payer_user_id)
            .join(Payment, Payment.id == PaymentBill.payment_id)
            .where(PaymentBill.bill_id.in_(bill_ids), PaymentBill.live.is_(True))
        )
    }
    at_window = set(
        db.session.execute(
            db.select(MicropayAttempt.bill_id).where(
                MicropayAttempt.bill_id.in_(bill_ids), MicropayAttempt.status.in_(MICROPAY_OPEN)
            )
        ).scalars()
    )
    holders = _holders(user, {row.payer_user_id for row in live.values()} - {user.id if user else None, None})
    held = []
    for bill in bills:
        entry = {"id": bill.id, "until": None}
        if bill.status == BillStatus.paid:
            entry["reason"] = "PAID"
        elif bill.id in live:
            share = live[bill.id]
            entry["reason"] = "INSURANCE_QUOTE" if share.kind == PaymentKind.medins else "PENDING_PAYMENT"
            entry["until"] = iso(share.expires_at)
            if share.payer_user_id in holders:
                entry["held_by"] = holders[share.payer_user_id]
        elif bill.id in at_window:
            entry["reason"] = "MICROPAY_UNRESOLVED"
        elif bill.status != BillStatus.due or bill.total_fen <= 0:
            entry["reason"] = "NOT_DUE"
        else:
            continue
        held.append(entry)
    return NotPayable(details={"bills": held})


def _holders(user, payer_ids):
    """payer user id -> {"relationship", "name"} for the other accounts holding bills ``user`` asked for."""
    if user is None or not payer_ids:
        return {}
    payers = db.session.execute(
        db.select(User.id, User.patient_id, Patient.name)
        .outerjoin(Patient, Patient.id == User.patient_id)
        .where(User.id.in_(payer_ids))
    ).all()
    patient_ids = {p.patient_id for p in payers if p.patient_id} | {user.patient_id}
    bindings = db.session.execute(
        db.select(Binding.user_id, Binding.relative_patient_id, Binding.relationship).where(
            Binding.status == BindingStatus.active,
            Binding.user_id.in_(payer_ids | {user.id}),
            Binding.relative_patient_id.in_(patient_ids - {None}),
        )
    ).all()
    mine = {b.relative_patient_id: b.relationship for b in bindings if b.user_id == user.id}
    theirs = {b.user_id: INVERSE[b.relationship] for b in bindings if b.relative_patient_id == user.patient_id}
    return {
        p.id: {"relationship": mine.get(p.patient_id) or theirs.get(p.id) or "other", "name": mask_name(p.name)}
        for p in payers
    }


def take(payment, orders):
    """Write the live shares of ``orders`` (``[(order, bills)]``) for ``payment`` and flush.

    Raises NotPayable when another payer took a bill first (the unique index of live shares),
    naming that payer to the asker (``held_by``) as the earlier checks do.
    """
    bill_ids = [bill.id for _, bills in orders for bill in bills]
    payer_id = payment.payer_user_id
    for order, bills in orders:
        for bill in bills:
            db.session.add(
                PaymentBill(payment_id=payment.id, bill_id=bill.id, order_id=order.id, amount_fen=bill.total_fen)
            )
    try:
        db.session.flush()
    except IntegrityError:  # another payer took a bill first
        db.session.rollback()
        raise not_payable(bill_ids, db.session.get(User, payer_id)) from None
