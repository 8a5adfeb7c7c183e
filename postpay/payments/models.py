"""Payments: one WeChat payment for bills of several patients and hospitals.

- ``Payment``: our business payment (id ``py_...``), what the payer asked for.
- ``PaymentOrder``: one WeChat order per hospital (``out_trade_no``); under a
  combine order (合单) when the bills span 2 to 10 hospitals.
- ``PaymentBill``: a bill in a payment. While the payment is pending or paid the
  row is ``live``: a partial unique index lets a bill be live in one payment only.
- ``LedgerEntry``: money that moved (paid, refunded), appended, never edited.
- ``Refund``: a refund owed and its way through WeChat Pay.
"""

import enum
import hashlib
import secrets

from postpay.clock import SHANGHAI, utcnow
from postpay.extensions import UTCDateTime, db
from postpay.security import new_id
from postpay.statemachine import Transitions, check_transition


class PaymentStatus(str, enum.Enum):
    pending = "pending"
    paid = "paid"
    closed = "closed"
    refunded = "refunded"


TRANSITIONS = {
    PaymentStatus.pending: {PaymentStatus.paid, PaymentStatus.closed},
    PaymentStatus.paid: {PaymentStatus.refunded},
    PaymentStatus.closed: set(),
    PaymentStatus.refunded: set(),
}


class PaymentKind(str, enum.Enum):
    """Which channel a payment goes through."""

    cash = "cash"  #: a WeChat Pay order (JSAPI, combine, or a kiosk's native QR code)
    medins = "medins"  #: a medical-insurance settlement (``insurance_settlements``)
    micropay = "micropay"  #: a kiosk's micropay (付款码/刷脸) of several bills: one ``MicropayAttempt``


def trade_no(prefix, now):
    """A WeChat order number (6-32 chars): never our business payment id."""
    return "%s%s%s" % (prefix, now.astimezone(SHANGHAI).strftime("%y%m%d"), secrets.token_hex(10).upper())


def digest(bill_ids):
    """What an idempotency key stands for: the SHA-256 of the sorted bill ids."""
    return hashlib.sha256(",".join(sorted(set(bill_ids))).encode()).hexdigest()


class Payment(Transitions, db.Model):
    TRANSITIONS, STATE_LABEL, STATE_ERROR = TRANSITIONS, "支付", "PAYMENT_STATE"
    __tablename__ = "payments"
    __table_args__ = (
        db.UniqueConstraint("payer_user_id", "idempotency_key", name="uq_payments_idempotency"),
        db.CheckConstraint("total_fen > 0", name="total_positive"),
        db.Index("ix_payments_status_expires_at", "status", "expires_at"),
    )

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("py"))
    #: The account that pays; None for a payment taken at a kiosk (``kiosk_id``).
    payer_user_id = db.Column(db.String(32), db.ForeignKey("users.id"), index=True)
    kiosk_id = db.Column(db.String(32), db.ForeignKey("kiosk_devices.id"))
    idempotency_key = db.Column(db.String(128), nullable=False)
    #: SHA-256 of the sorted bill ids: the same key with another body is refused.
    request_digest = db.Column(db.String(64), nullable=False)
    status = db.Column(db.Enum(PaymentStatus, native_enum=False, length=16), nullable=False)
    kind = db.Column(
        db.Enum(PaymentKind, native_enum=False, length=16),
        nullable=False,
        default=PaymentKind.cash,
        server_default="cash",
    )
    total_fen = db.Column(db.BigInteger, nullable=False)
    #: The WeChat order the payer pays: the JSAPI order, or the combine order's number.
    out_trade_no = db.Column(db.String(32), nullable=False, unique=True)
    combined = db.Column(db.Boolean, nullable=False)
    #: Exactly what was sent to WeChat, so a retry sends the same (never 商户订单号重复).
    order_request = db.Column(db.JSON, nullable=False)
    prepay_id = db.Column(db.String(64))
    #: A native order's QR code content (the kiosk shows it), once placed.
    code_url = db.Column(db.String(128))
    expires_at = db.Column(UTCDateTime, nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    paid_at = db.Column(UTCDateTime)
    closed_at = db.Column(UTCDateTime)

    orders = db.relationship("PaymentOrder", back_populates="payment", order_by="PaymentOrder.out_trade_no")
    bills = db.relationship("PaymentBill", back_populates="payment")

    @property
    def placed(self):
        """WeChat has the order (a JSAPI prepay_id or a native code_url)."""
        return self.prepay_id is not None or self.code_url is not None


def mark_paid(payment_id, status, at):
    """Bulk fast path of ``Payment.transition(paid)``: one UPDATE of the row (locked by the
    caller, read as ``status``), without loading it. Raises Conflict for an illegal move."""
    check_transition(Payment, status, PaymentStatus.paid)
    payments = Payment.__table__
    db.session.execute(
        payments.update().where(payments.c.id == payment_id).values(status=PaymentStatus.paid, paid_at=at)
    )


class PaymentOrder(db.Model):
    __tablename__ = "payment_orders"
    __table_args__ = (db.CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("po"))
    payment_id = db.Column(db.String(32), db.ForeignKey("payments.id"), nullable=False, index=True)
    hospital_id = db.Column(db.String(32), db.ForeignKey("hospitals.id"), nullable=False)
    mchid = db.Column(db.String(32), nullable=False)
    out_trade_no = db.Column(db.String(32), nullable=False, unique=True)
    amount_fen = db.Column(db.BigInteger, nullable=False)
    #: The appid the order names (appid, sp_appid or combine_appid), and its sub_appid when the
    #: payer paid in the hospital's own official account: a notification must name the same.
    #: None on orders placed before the official account came: ``WECHAT_APPID``.
    appid = db.Column(db.String(32))
    sub_appid = db.Column(db.String(32))
    #: WeChat's transaction id once paid: applied once, whatever the deliveries.
    transaction_id = db.Column(db.String(64), unique=True)
    paid_at = db.Column(UTCDateTime)

    payment = db.relationship(Payment, back_populates="orders")
    hospital = db.relationship("Hospital")


class PaymentBill(db.Model):
    __tablename__ = "payment_bills"
    __table_args__ = (
        db.Index(
            "uq_payment_bills_live",
            "bill_id",
            unique=True,
            postgresql_where=db.text("live"),
            sqlite_where=db.text("live = 1"),
        ),
    )

    payment_id = db.Column(db.String(32), db.ForeignKey("payments.id"), primary_key=True)
    bill_id = db.Column(db.String(32), db.ForeignKey("bills.id"), primary_key=True)
    order_id = db.Column(db.String(32), db.ForeignKey("payment_orders.id"), nullable=False)
    amount_fen = db.Column(db.BigInteger, nullable=False)
    #: True while the payment is pending or paid: the bill is taken.
    live = db.Column(db.Boolean, nullable=False, default=True)

    payment = db.relationship(Payment, back_populates="bills")
    bill = db.relationship("Bill")


class LedgerEntry(db.Model):
    """Money that moved for a bill. ``paid`` is positive, ``refund`` negative; rows are never edited."""

    __tablename__ = "ledger_entries"
    __table_args__ = (db.UniqueConstraint("kind", "reference", "bill_id", name="uq_ledger_once"),)

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("le"))
    bill_id = db.Column(db.String(32), db.ForeignKey("bills.id"), nullable=False, index=True)
    #: paid / refund
    kind = db.Column(db.String(16), nullable=False)
    #: wechat / window_cash / window_card / micropay
    channel = db.Column(db.String(16), nullable=False)
    amount_fen = db.Column(db.BigInteger, nullable=False)
    #: WeChat transaction id or refund id, or the window receipt: the same money is booked once.
    reference = db.Column(db.String(64), nullable=False)
    payment_id = db.Column(db.String(32), db.ForeignKey("payments.id"))
    #: Our order number at WeChat for a micropay entry (the reconciliation finds it in the statement by it).
    out_trade_no = db.Column(db.String(32))
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)


class RefundStatus(str, enum.Enum):
    requested = "requested"  #: owed, not yet accepted by WeChat Pay
    processing = "processing"  #: accepted; the refund notification tells how it ended
    succeeded = "succeeded"
    failed = "failed"  #: for people to handle (an alert went out)


#: A notification may arrive before the acceptance is recorded: requested -> succeeded/failed.
REFUND_TRANSITIONS = {
    RefundStatus.requested: {RefundStatus.processing, RefundStatus.succeeded, RefundStatus.failed},
    RefundStatus.processing: {RefundStatus.succeeded, RefundStatus.failed},
    RefundStatus.succeeded: set(),
    RefundStatus.failed: set(),
}


class Refund(Transitions, db.Model):
    """A refund owed on a paid bill: a voided item (R12), or a bill paid twice."""

    TRANSITIONS, STATE_LABEL, STATE_ERROR = REFUND_TRANSITIONS, "退款", "REFUND_STATE"
    __tablename__ = "refunds"
    __table_args__ = (db.CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("rf"))
    bill_id = db.Column(db.String(32), db.ForeignKey("bills.id"), nullable=False, index=True)
    #: The voided item (one refund per item); None for a double payment.
    item_id = db.Column(db.String(32), db.ForeignKey("items.id"), unique=True)
    #: The WeChat order the money goes back through.
    order_id = db.Column(db.String(32), db.ForeignKey("payment_orders.id"))
    #: Our refund number at WeChat.
    out_refund_no = db.Column(db.String(64), unique=True, default=lambda: new_id("RF").replace("_", ""))
    refund_id = db.Column(db.String(64))
    amount_fen = db.Column(db.BigInteger, nullable=False)
    reason = db.Column(db.String(200), nullable=False)
    status = db.Column(
        db.Enum(RefundStatus, native_enum=False, length=16), nullable=False, default=RefundStatus.requested
    )
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    settled_at = db.Column(UTCDateTime)


class MicropayStatus(str, enum.Enum):
    paying = "paying"  #: sent to WeChat, its answer not yet in
    paid = "paid"  #: WeChat took the money; booked through the ledger
    failed = "failed"  #: WeChat refused it: nothing was taken
    reversed = "reversed"  #: unresolved, then reversed (撤销): nothing was taken, or it went back
    unknown = "unknown"  #: unresolved and the reverse failed: staff settle it by a query (console)


MICROPAY_TRANSITIONS = {
    MicropayStatus.paying: {
        MicropayStatus.paid,
        MicropayStatus.failed,
        MicropayStatus.reversed,
        MicropayStatus.unknown,
    },
    MicropayStatus.unknown: {MicropayStatus.paid, MicropayStatus.failed, MicropayStatus.reversed},
    MicropayStatus.paid: set(),
    MicropayStatus.failed: set(),
    MicropayStatus.reversed: set(),
}
#: An attempt in these statuses may still take the money: its bill cannot be taken again.
MICROPAY_OPEN = (MicropayStatus.paying, MicropayStatus.unknown)


class MicropayAttempt(Transitions, db.Model):
    """One micropay (付款码支付) order at WeChat, written before WeChat is called, so a payment
    whose outcome is unknown is never lost and its bills are never taken twice: a window's for
    one bill (``bill_id``), or a kiosk's for the bills of its payment (``payment_id``, whose live
    shares hold the bills)."""

    TRANSITIONS, STATE_LABEL, STATE_ERROR = MICROPAY_TRANSITIONS, "付款码支付", "MICROPAY_STATE"
    __tablename__ = "micropay_attempts"
    __table_args__ = (
        db.CheckConstraint("amount_fen > 0", name="amount_positive"),
        db.CheckConstraint("(bill_id IS NULL) <> (payment_id IS NULL)", name="bill_or_payment"),
        db.Index("ix_micropay_attempts_bill_status", "bill_id", "status"),
    )

    id = db.Column(db.String(32), primary_key=True, default=lambda: new_id("mp"))
    bill_id = db.Column(db.String(32), db.ForeignKey("bills.id"))
    payment_id = db.Column(db.String(32), db.ForeignKey("payments.id"), index=True)
    out_trade_no = db.Column(db.String(32), nullable=False, unique=True)
    #: The hospital's merchant id (sub_mch_id, or the provider's own in direct mode).
    mchid = db.Column(db.String(32), nullable=False)
    amount_fen = db.Column(db.BigInteger, nullable=False)
    status = db.Column(
        db.Enum(MicropayStatus, native_enum=False, length=16), nullable=False, default=MicropayStatus.paying
    )
    transaction_id = db.Column(db.String(64))
    #: WeChat's last word on it (err_code or trade_state), for the console.
    note = db.Column(db.String(128))
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
