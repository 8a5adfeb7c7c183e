"""The dashboard's figures, each from one grouped query, and their server-rendered SVG charts."""

import datetime as dt
from xml.sax.saxutils import escape

from postpay.billing.models import Bill, BillStatus, Dispute, DisputeStatus
from postpay.clock import day_start
from postpay.console.auth import scoped
from postpay.contracts.models import Contract
from postpay.extensions import db
from postpay.payments.models import LedgerEntry

CHANNEL_LABELS = {
    "wechat": "微信支付(含亲情付)",
    "window_cash": "窗口现金",
    "window_card": "窗口银行卡",
    "micropay": "付款码/刷脸",
}
AGING = (("not_due", "未到期"), ("d0_7", "逾期0-7天"), ("d7_30", "逾期7-30天"), ("d30", "逾期30天以上"))


def _local_day(column):
    """The Shanghai calendar day of a UTC timestamp column, in SQL."""
    if db.engine.dialect.name == "postgresql":
        return db.func.date(db.func.timezone("Asia/Shanghai", column))
    return db.func.date(column, "+8 hours")


def _day_start(day):
    return day_start(day).astimezone(dt.timezone.utc)


def signings_per_day(today, days=14):
    """[(date, count)] of contracts signed on each of the last ``days`` days (hub-wide), zeros included."""
    first = today - dt.timedelta(days=days - 1)
    day = _local_day(Contract.signed_at)
    rows = db.session.execute(
        db.select(day, db.func.count(Contract.id)).where(Contract.signed_at >= _day_start(first)).group_by(day)
    ).all()
    counts = {str(d): n for d, n in rows}
    return [(first + dt.timedelta(days=i), counts.get(str(first + dt.timedelta(days=i)), 0)) for i in range(days)]


def bill_aging(staff, now):
    """Open, due and overdue bills with their aging buckets: {"open": (n, fen), bucket: (n, fen), ...}."""
    bucket = db.case(
        (Bill.status == BillStatus.open, "open"),
        (Bill.due_at >= now, "not_due"),
        (Bill.due_at >= now - dt.timedelta(days=7), "d0_7"),
        (Bill.due_at >= now - dt.timedelta(days=30), "d7_30"),
        else_="d30",
    )
    query = db.select(bucket, db.func.count(Bill.id), db.func.coalesce(db.func.sum(Bill.total_fen), 0)).where(
        Bill.status.in_((BillStatus.open, BillStatus.due))
    )
    rows = db.session.execute(scoped(query, Bill.hospital_id, staff).group_by(bucket)).all()
    found = {name: (n, int(fen)) for name, n, fen in rows}
    return {name: found.get(name, (0, 0)) for name in ["open"] + [b for b, _ in AGING]}


def payment_mix(staff, since):
    """[(channel, count, fen)] of money taken since ``since``, by mode (R13)."""
    query = (
        db.select(LedgerEntry.channel, db.func.count(LedgerEntry.id), db.func.sum(LedgerEntry.amount_fen))
        .join(Bill, Bill.id == LedgerEntry.bill_id)
        .where(LedgerEntry.kind == "paid", LedgerEntry.created_at >= since)
    )
    rows = db.session.execute(scoped(query, Bill.hospital_id, staff).group_by(LedgerEntry.channel)).all()
    return sorted(((c, n, int(f or 0)) for c, n, f in rows), key=lambda r: -r[2])


def day_figures(staff, today, now):
    """The day at a glance: signings, payments taken, open disputes, overdue bills."""
    start = _day_start(today)
    signings = db.session.execute(db.select(db.func.count(Contract.id)).where(Contract.signed_at >= start)).scalar_one()
    paid = db.session.execute(
        scoped(
            db.select(db.func.count(LedgerEntry.id), db.func.coalesce(db.func.sum(LedgerEntry.amount_fen), 0))
            .join(Bill, Bill.id == LedgerEntry.bill_id)
            .where(LedgerEntry.kind == "paid", LedgerEntry.created_at >= start),
            Bill.hospital_id,
            staff,
        )
    ).one()
    disputes = db.session.execute(
        scoped(
            db.select(db.func.count(Dispute.id))
            .join(Bill, Bill.id == Dispute.bill_id)
            .where(Dispute.status == DisputeStatus.pending),
            Bill.hospital_id,
            staff,
        )
    ).scalar_one()
    overdue = db.session.execute(
        scoped(
            db.select(db.func.count(Bill.id)).where(Bill.status == BillStatus.due, Bill.due_at < now),
            Bill.hospital_id,
            staff,
        )
    ).scalar_one()
    return {
        "signings": signings,
        "payments": paid[0],
        "paid_fen": int(paid[1]),
        "disputes": disputes,
        "overdue": overdue,
    }


def yuan(fen):
    return "%s.%02d" % ("{:,}".format(fen // 100), fen % 100)


def bar_chart(series, title, width=420, height=220):
    """Vertical bars with value labels: ``series`` is [(label, value)]."""
    top = max([v for _, v in series] + [1])
    n = max(len(series), 1)
    slot = (width - 40) / n
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 %d %d" width="100%%">' % (width, height),
        "<title>%s</title>" % escape(title),
    ]
    for i, (label, value) in enumerate(series):
        h = (height - 60) * value / top
        x, y = 30 + i * slot, height - 30 - h
        parts.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#2f6fb3"/>' % (x + 2, y, slot - 4, h))
        parts.append(
            '<text x="%.1f" y="%.1f" font-size="12" text-anchor="middle">%s</text>'
            % (x + slot / 2, y - 4, "{:,}".format(value))
        )
        if len(series) <= 7 or (len(series) - 1 - i) % 2 == 0:  # every other day, today always
            parts.append(
                '<text x="%.1f" y="%d" font-size="12" text-anchor="middle">%s</text>'
                % (x + slot / 2, height - 10, escape(label))
            )
    parts.append("</svg>")
    return "".join(parts)


def hbar_chart(series, title, width=420):
    """Horizontal bars: ``series`` is [(label, value, caption)]."""
    top = max([v for _, v, _ in series] + [1])
    height = 34 * max(len(series), 1) + 10
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 %d %d" width="100%%">' % (width, height),
        "<title>%s</title>" % escape(title),
    ]
    for i, (label, value, caption) in enumerate(series):
        y = 8 + i * 34
        w = (width - 280) * value / top
        parts.append('<text x="0" y="%d" font-size="14">%s</text>' % (y + 18, escape(label)))
        parts.append('<rect x="110" y="%d" width="%.1f" height="22" fill="#3c8d5a"/>' % (y + 2, w))
        parts.append('<text x="%.1f" y="%d" font-size="14">%s</text>' % (116 + w, y + 18, escape(caption)))
    parts.append("</svg>")
    return "".join(parts)
