"""The HIS settlement feed's rows (issue 18): a per-hospital counter and the entries the ledger writes."""

from postpay.clock import utcnow
from postpay.extensions import UTCDateTime, db
from postpay.security import new_id


class SettlementCounter(db.Model):
    """A hospital's last settlement-feed number; its row is locked while an entry is written, so one
    hospital's numbers commit in order and a reader past number n never misses one below it."""

    __tablename__ = "settlement_counters"

    hospital_id = db.Column(db.String(32), db.ForeignKey("hospitals.id"), primary_key=True)
    last_seq = db.Column(db.BigInteger, nullable=False)


class SettlementEntry(db.Model):
    """What the HIS reads (``GET /his/v1/settlements``): a bill's payment or a succeeded refund, numbered
    per hospital, written with the ledger rows it tells of; never edited."""

    __tablename__ = "settlement_entries"
    __table_args__ = (db.UniqueConstraint("hospital_id", "seq", name="uq_settlement_entries_seq"),)

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("se"))
    hospital_id = db.Column(db.String(32), db.ForeignKey("hospitals.id"), nullable=False)
    seq = db.Column(db.BigInteger, nullable=False)
    bill_id = db.Column(db.String(32), db.ForeignKey("bills.id"), nullable=False, index=True)
    #: paid / refund
    kind = db.Column(db.String(16), nullable=False)
    #: the ledger's: wechat / medins / window_cash / window_card / micropay
    channel = db.Column(db.String(16), nullable=False)
    cash_fen = db.Column(db.BigInteger, nullable=False, default=0)
    fund_fen = db.Column(db.BigInteger, nullable=False, default=0)
    account_fen = db.Column(db.BigInteger, nullable=False, default=0)
    #: The ledger references: WeChat transaction or refund ids, med-ins payOrdId or trxSn, window receipts.
    transaction_ids = db.Column(db.JSON, nullable=False)
    payment_id = db.Column(db.String(32), db.ForeignKey("payments.id"))
    #: Our refund's id (``rf_`` or the insurance refund's) for a refund entry.
    refund_id = db.Column(db.String(32))
    at = db.Column(UTCDateTime, nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
