"""Disputes (R12): a given-up item flagged before paying, confirmed or rejected at the window."""

import logging

from sqlalchemy.exc import IntegrityError

from postpay.billing import service as billing
from postpay.billing.models import BillStatus, Dispute, DisputeStatus, Item
from postpay.clock import utcnow
from postpay.errors import Conflict, Invalid, NotFound
from postpay.extensions import db

log = logging.getLogger(__name__)


def raise_disputes(user, bill, item_ids, reason):
    """Flag items of an unpaid bill as given up. Raises Invalid (UNKNOWN_ITEM), Conflict."""
    if bill.status not in (BillStatus.open, BillStatus.due):
        raise Conflict("账单已结清，如有疑问请至人工窗口咨询", code="BILL_SETTLED")
    items = {i.id: i for i in bill.items if i.voided_at is None}  # deferred items: the ones billed
    unknown = [i for i in item_ids if i not in items]
    if unknown:
        raise Invalid("账单中没有这些项目: %s" % ", ".join(unknown[:5]), code="UNKNOWN_ITEM")
    disputes = []
    for item_id in dict.fromkeys(item_ids):
        dispute = Dispute(
            bill_id=bill.id, item_id=item_id, raised_by_user_id=user.id, reason=reason, status=DisputeStatus.pending
        )
        try:
            with db.session.begin_nested():
                db.session.add(dispute)
        except IntegrityError:
            raise Conflict("该项目已提交退费核对，请等待窗口确认", code="ALREADY_DISPUTED") from None
        disputes.append(dispute)
    log.info("bill %s: %d item(s) disputed", bill.id, len(disputes))
    return disputes


def decide(dispute_id, staff, confirm, reason=None):
    """Staff confirm (the item is voided) or reject (with a reason the patient sees).

    Raises NotFound, Invalid (REASON_REQUIRED), Conflict (DISPUTE_DECIDED).
    """
    dispute = db.session.get(Dispute, dispute_id, with_for_update=True)
    if dispute is None:
        raise NotFound("未找到该退费核对")
    if dispute.status != DisputeStatus.pending:
        raise Conflict("该退费核对已处理", code="DISPUTE_DECIDED")
    if not confirm and not reason:
        raise Invalid("驳回时请填写原因", code="REASON_REQUIRED")
    dispute.transition(DisputeStatus.confirmed if confirm else DisputeStatus.rejected)
    dispute.decided_by, dispute.decided_at, dispute.decision_reason = staff, utcnow(), reason
    if confirm:
        item = db.session.get(Item, dispute.item_id)
        billing.void_item(item, "窗口确认放弃: %s" % dispute.reason)
    db.session.flush()
    return dispute


def for_bill(bill_id):
    """The newest dispute of each item of the bill."""
    rows = db.session.execute(db.select(Dispute).where(Dispute.bill_id == bill_id).order_by(Dispute.created_at))
    return list({d.item_id: d for d in rows.scalars()}.values())
