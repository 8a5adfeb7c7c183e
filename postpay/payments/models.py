"""Money moving back: refunds. Rows are appended, never edited into another amount."""

from postpay.accounts.models import utcnow
from postpay.extensions import UTCDateTime, db
from postpay.security import new_id


class Refund(db.Model):
    """A refund owed on a paid bill (a voided item, R12). The payments issue carries it to WeChat Pay."""

    __tablename__ = "refunds"
    __table_args__ = (db.CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("rf"))
    bill_id = db.Column(db.String(32), db.ForeignKey("bills.id"), nullable=False, index=True)
    #: One refund per voided item.
    item_id = db.Column(db.String(32), db.ForeignKey("items.id"), nullable=False, unique=True)
    amount_fen = db.Column(db.BigInteger, nullable=False)
    reason = db.Column(db.String(200), nullable=False)
    #: requested -> (payments issue) processing -> succeeded / failed
    status = db.Column(db.String(16), nullable=False, default="requested")
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
