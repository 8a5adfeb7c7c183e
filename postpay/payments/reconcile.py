"""Daily reconciliation: WeChat's trade statement against our paid orders."""

import datetime as dt
from decimal import Decimal

from postpay import clients
from postpay.clock import day_start
from postpay.extensions import db
from postpay.payments.models import PaymentOrder


def yuan_to_fen(text):
    """``"300.00"`` -> 30000, exactly (never through float)."""
    return int((Decimal(text) * 100).to_integral_exact())


def parse_statement(text):
    """The SUCCESS rows of a trade statement: ``{out_trade_no: (transaction_id, mchid, fen)}``."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0].split(",")
    rows = {}
    for line in lines[1:]:
        if not line.startswith("`"):
            continue
        fields = dict(zip(header, (f.lstrip("`") for f in line.split(",")), strict=False))
        if fields.get("交易状态") != "SUCCESS" or "商户订单号" not in fields:
            continue
        rows[fields["商户订单号"]] = (fields["微信订单号"], fields["商户号"], yuan_to_fen(fields["应结订单金额"]))
    return rows


def ours(day):
    start = day_start(day)
    query = db.select(PaymentOrder).where(
        PaymentOrder.paid_at >= start, PaymentOrder.paid_at < start + dt.timedelta(days=1)
    )
    return {o.out_trade_no: (o.transaction_id, o.mchid, o.amount_fen) for o in db.session.execute(query).scalars()}


def reconcile(day):
    """Every difference for ``day``: ``[(kind, out_trade_no, theirs, ours)]`` with kind MISSING_AT_WECHAT,
    MISSING_IN_OURS or DIFFERENT."""
    theirs = parse_statement(clients.wechat_pay().trade_bill(day.isoformat()))
    mine = ours(day)
    found = []
    for no in sorted(set(theirs) | set(mine)):
        if no not in theirs:
            found.append(("MISSING_AT_WECHAT", no, None, mine[no]))
        elif no not in mine:
            found.append(("MISSING_IN_OURS", no, theirs[no], None))
        elif theirs[no] != mine[no]:
            found.append(("DIFFERENT", no, theirs[no], mine[no]))
    return found
