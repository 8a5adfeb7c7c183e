"""Paying at the kiosk (自助缴费, R11, R13 刷脸付): the session patient's due bills at the kiosk's
hospital, paid with the payment (or face) code scanned at the kiosk (micropay, taken at once)
or with a native order's QR code the patient scans on their phone.

Both go through what every channel uses: the bills are taken by ``payments/reserve.py`` (one
live payment a bill), the money is booked by ``payments/ledger.py``; a micropay through
``payments/micropay.py`` (shared with the window: reversed when unresolved), a QR code through
the WeChat channel (its notification goes through ``payments/notify.py`` like any other).
"""

import datetime as dt
import logging
import secrets

from flask import current_app
from sqlalchemy.orm import selectinload

from postpay.billing.models import Bill, BillStatus
from postpay.clock import SHANGHAI
from postpay.errors import NotFound
from postpay.extensions import db
from postpay.payments import merchant, micropay, reserve
from postpay.payments import service as payments
from postpay.payments.channels import wechat
from postpay.payments.models import (
    MicropayAttempt,
    Payment,
    PaymentBill,
    PaymentKind,
    PaymentOrder,
    PaymentStatus,
    digest,
    trade_no,
)

log = logging.getLogger(__name__)

MISSING_PAYMENT = "未找到该支付"


def due_bills(device, patient):
    """The patient's due bills at the kiosk's hospital, oldest first, with their items and the
    ids of those a pending payment holds: three queries whatever the number of bills."""
    bills = (
        db.session.execute(
            db.select(Bill)
            .where(
                Bill.patient_id == patient.id,
                Bill.hospital_id == device.hospital_id,
                Bill.status == BillStatus.due,
                Bill.total_fen > 0,
            )
            .order_by(Bill.visit_day, Bill.part, Bill.id)
            .options(selectinload(Bill.items))
        )
        .scalars()
        .all()
    )
    held = set()
    if bills:
        held = set(
            db.session.execute(
                db.select(PaymentBill.bill_id).where(
                    PaymentBill.bill_id.in_([b.id for b in bills]), PaymentBill.live.is_(True)
                )
            ).scalars()
        )
    return bills, held


def _bills(device, patient, bill_ids):
    """The bills, locked in id order; another patient's, another hospital's or a missing one
    is not found (404), alike."""
    query = db.select(Bill).where(Bill.id.in_(bill_ids)).order_by(Bill.id).with_for_update()
    bills = db.session.execute(query).scalars().all()
    if len(bills) != len(bill_ids) or any(
        b.patient_id != patient.id or b.hospital_id != device.hospital_id for b in bills
    ):
        raise NotFound(reserve.MISSING_BILL)
    return bills


def _reserve(device, patient, bill_ids, kind, now):
    """A pending payment of the kiosk holding the bills (flushed). Raises NotFound, NotPayable."""
    bills = _bills(device, patient, bill_ids)
    reserve.check_due(bills)
    reserve.check_free(bill_ids)
    expires = now + dt.timedelta(minutes=current_app.config["POSTPAY_ORDER_MINUTES"])
    total = sum(b.total_fen for b in bills)
    payment = Payment(
        payer_user_id=None,
        kiosk_id=device.id,
        idempotency_key="kiosk:%s" % secrets.token_hex(12),
        request_digest=digest(bill_ids),
        status=PaymentStatus.pending,
        kind=kind,
        total_fen=total,
        out_trade_no=trade_no("K" if kind == PaymentKind.micropay else "Q", now),
        combined=False,
        order_request={},
        expires_at=expires,
    )
    order = PaymentOrder(
        payment=payment,
        hospital_id=device.hospital_id,
        mchid=device.hospital.mchid,
        out_trade_no=payment.out_trade_no,
        amount_fen=total,
    )
    db.session.add_all([payment, order])
    db.session.flush()
    reserve.take(payment, [(order, bills)])
    return payment


def pay_by_code(device, patient, bill_ids, auth_code, client_ip, now):
    """Take the bills' money with the code scanned at the kiosk; returns the paid payment.

    Raises Invalid (INVALID_AUTH_CODE, MICROPAY_REFUSED, MICROPAY_REVERSED: the bills are free
    again), MicropayUnknown (the bills stay held until staff settle it), NotFound, NotPayable,
    Upstream.
    """
    code = micropay.check_code(auth_code)
    payment = _reserve(device, patient, sorted(bill_ids), PaymentKind.micropay, now)
    order = payment.orders[0]
    attempt = MicropayAttempt(
        payment_id=payment.id, out_trade_no=order.out_trade_no, mchid=order.mchid, amount_fen=order.amount_fen
    )
    micropay.charge(attempt, code, client_ip, audience="kiosk")  # commits the payment first
    micropay.book(attempt, now)
    log.info("kiosk %s: payment %s paid by code, %s fen", device.code, payment.id, payment.total_fen)
    return db.session.get(Payment, payment.id)


def pay_by_qr(device, patient, bill_ids, now):
    """A native order for the bills, its code_url to show as a QR code; returns the payment.
    The bills are taken and committed before WeChat hears of the order. Raises NotFound,
    NotPayable, Upstream (the payment stays pending until it expires)."""
    payment = _reserve(device, patient, sorted(bill_ids), PaymentKind.cash, now)
    order = payment.orders[0]
    payment.order_request = merchant.native_request(
        order.mchid,
        {
            "description": "门诊诊后付费用-自助机",
            "out_trade_no": order.out_trade_no,
            "time_expire": payment.expires_at.astimezone(SHANGHAI).isoformat(timespec="seconds"),
            "attach": payment.id,
            "notify_url": current_app.config["WECHATPAY_NOTIFY_URL"],
            "amount": {"total": order.amount_fen, "currency": "CNY"},
        },
    )
    db.session.commit()
    return wechat.place(payment)


def payment_of(device, patient, payment_id):
    """A payment this kiosk took for the session patient; a pending QR order asks WeChat first.
    Raises NotFound for any other payment."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.kiosk_id != device.id:
        raise NotFound(MISSING_PAYMENT)
    others = db.session.execute(
        db.select(Bill.id)
        .join(PaymentBill, PaymentBill.bill_id == Bill.id)
        .where(PaymentBill.payment_id == payment.id, Bill.patient_id != patient.id)
        .limit(1)
    ).first()
    if others:
        raise NotFound(MISSING_PAYMENT)
    if payment.status == PaymentStatus.pending and payment.kind == PaymentKind.cash:
        payment = payments.refresh(payment)
    return payment
