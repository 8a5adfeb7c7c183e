"""What a voided item of a paid bill (R12) owes back, through the channel that paid the bill."""

from postpay import pushes, queue
from postpay.extensions import db
from postpay.payments.channels import medins, wechat
from postpay.payments.models import PaymentBill, PaymentKind, Refund


def request_for_item(bill, item, reason):
    """Refund the item's amount through the order that paid the bill; a settled bill gives each
    part back through its own channel. Returns the WeChat Pay refund (or None)."""
    share = db.session.execute(
        db.select(PaymentBill).where(PaymentBill.bill_id == bill.id, PaymentBill.live.is_(True))
    ).scalar_one_or_none()
    if share is not None and share.payment.kind == PaymentKind.medins:
        return medins.refund_item(bill, item, reason, share)[1]
    refund = Refund(
        bill_id=bill.id,
        item_id=item.id,
        amount_fen=item.amount_fen,
        reason=reason,
        order_id=share.order_id if share else None,
    )
    db.session.add(refund)
    db.session.flush()
    if share is not None:
        pushes.after_commit(queue.enqueue, wechat.REFUND_JOB, refund.id)
    return refund
