"""What a voided item of a paid bill (R12) owes back, through the channel that paid the bill."""

from postpay.extensions import db
from postpay.payments import channels
from postpay.payments.models import PaymentBill, Refund


def request_for_item(bill, item, reason):
    """Refund the item's amount through the channel that paid the bill (a settled bill gives each
    part back through its own channel). A bill paid at the window gets a refund without an order:
    staff hand it back there. Returns the WeChat Pay refund owed, if any."""
    share = db.session.execute(
        db.select(PaymentBill).where(PaymentBill.bill_id == bill.id, PaymentBill.live.is_(True))
    ).scalar_one_or_none()
    if share is not None:
        return channels.of(share.payment).refund_item(bill, item, reason, share)
    refund = Refund(bill_id=bill.id, item_id=item.id, amount_fen=item.amount_fen, reason=reason)
    db.session.add(refund)
    db.session.flush()
    return refund
