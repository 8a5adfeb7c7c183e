"""The HIS face's queries: items voided since a cursor."""

import datetime as dt

from postpay.api import parse_time
from postpay.billing.models import Bill, BillStatus, Item
from postpay.errors import Invalid
from postpay.extensions import db
from postpay.visits.models import Visit


def voided_since(hospital, cursor, limit):
    """Items of the hospital's visits voided after ``cursor`` (``<ISO time>,<item id>``), oldest first,
    each with whether its bill was paid (then a refund is under way); returns ``(rows, next cursor)``.

    Raises Invalid (BAD_CURSOR).
    """
    query = (
        db.select(Item, Visit, Bill.status == BillStatus.paid)
        .join(Visit, Visit.id == Item.visit_id)
        .outerjoin(Bill, Bill.id == Item.bill_id)
        .where(Visit.hospital_id == hospital.id, Item.voided_at.isnot(None))
    )
    if cursor:
        text, _, after_id = cursor.partition(",")
        try:
            moment = parse_time(text)
        except Invalid:
            raise Invalid("cursor 无效", code="BAD_CURSOR") from None
        query = query.where(db.or_(Item.voided_at > moment, db.and_(Item.voided_at == moment, Item.id > after_id)))
    rows = db.session.execute(query.order_by(Item.voided_at, Item.id).limit(limit)).all()
    if not rows:
        return [], cursor
    last = rows[-1][0]
    return [(item, visit, bool(paid)) for item, visit, paid in rows], "%s,%s" % (
        last.voided_at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        last.id,
    )
