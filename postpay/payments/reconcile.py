"""Daily reconciliation, hospital by hospital: WeChat's trade statement against our paid orders
and the window's micropay payments."""

import datetime as dt
import logging
from decimal import Decimal

import requests

from postpay import clients
from postpay.billing.models import Bill
from postpay.clock import day_start
from postpay.errors import Upstream
from postpay.extensions import db
from postpay.hospitals.models import Hospital
from postpay.payments.models import LedgerEntry, PaymentOrder
from wechat.pay import PayError

log = logging.getLogger(__name__)


def yuan_to_fen(text):
    """``"300.00"`` -> 30000, exactly (never through float)."""
    return int((Decimal(text) * 100).to_integral_exact())


def parse_statement(text):
    """The SUCCESS rows of a trade statement: ``{out_trade_no: (transaction_id, mchid, fen)}``; the
    mchid is the hospital's: the sub-merchant (特约商户号) when a provider's statement names one."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0].split(",")
    rows = {}
    for line in lines[1:]:
        if not line.startswith("`"):
            continue
        fields = dict(zip(header, (f.lstrip("`") for f in line.split(",")), strict=False))
        if fields.get("交易状态") != "SUCCESS" or "商户订单号" not in fields:
            continue
        mchid = fields.get("特约商户号") or fields["商户号"]
        rows[fields["商户订单号"]] = (fields["微信订单号"], mchid, yuan_to_fen(fields["应结订单金额"]))
    return rows


def ours(day):
    """Our side of ``day`` in the statement's shape: paid WeChat orders, and window micropay
    payments by the out_trade_no they were taken with (entries booked before it was kept have none)."""
    start, end = day_start(day), day_start(day) + dt.timedelta(days=1)
    orders = db.select(PaymentOrder).where(PaymentOrder.paid_at >= start, PaymentOrder.paid_at < end)
    mine = {o.out_trade_no: (o.transaction_id, o.mchid, o.amount_fen) for o in db.session.execute(orders).scalars()}
    micropay = (
        db.select(LedgerEntry.out_trade_no, LedgerEntry.reference, Hospital.mchid, LedgerEntry.amount_fen)
        .join(Bill, Bill.id == LedgerEntry.bill_id)
        .join(Hospital, Hospital.id == Bill.hospital_id)
        .where(
            LedgerEntry.channel == "micropay",
            LedgerEntry.kind == "paid",
            LedgerEntry.out_trade_no.is_not(None),
            LedgerEntry.created_at >= start,
            LedgerEntry.created_at < end,
        )
    )
    for no, transaction_id, mchid, fen in db.session.execute(micropay):
        mine[no] = (transaction_id, mchid, fen)
    return mine


def statement(day):
    """WeChat's statement of ``day``, parsed. Raises Upstream when it cannot be had or fails its SHA1."""
    try:
        return parse_statement(clients.wechat_pay().trade_bill(day.isoformat()))
    except PayError as e:
        log.error("trade statement of %s refused: %s", day, e.code)
        raise Upstream("微信支付对账单获取失败（%s），请稍后重试" % e.code) from None
    except requests.RequestException as e:
        log.error("trade statement of %s failed: %s", day, type(e).__name__)
        raise Upstream("微信支付对账单获取失败，请稍后重试") from None


def reconcile(day):
    """Every difference for ``day``, by hospital: ``{mchid: [(kind, out_trade_no, theirs, ours)]}`` with
    kind MISSING_AT_WECHAT, MISSING_IN_OURS or DIFFERENT; every hospital has its list, empty when clean.
    Raises Upstream (the statement)."""
    theirs = statement(day)
    mine = ours(day)
    found = {h.mchid: [] for h in db.session.execute(db.select(Hospital)).scalars()}
    for no in sorted(set(theirs) | set(mine)):
        if no not in theirs:
            difference = ("MISSING_AT_WECHAT", no, None, mine[no])
        elif no not in mine:
            difference = ("MISSING_IN_OURS", no, theirs[no], None)
        elif theirs[no] != mine[no]:
            difference = ("DIFFERENT", no, theirs[no], mine[no])
        else:
            continue
        found.setdefault((mine.get(no) or theirs[no])[1], []).append(difference)
    return found
