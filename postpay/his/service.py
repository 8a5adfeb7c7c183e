"""The HIS face's queries: items voided since a cursor."""

from postpay import cursors
from postpay.billing.models import Bill, BillStatus, Item
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
        query = cursors.after(query, cursor, Item.voided_at, Item.id)
    rows = db.session.execute(query.order_by(Item.voided_at, Item.id).limit(limit)).all()
    if not rows:
        return [], cursor
    last = rows[-1][0]
    return [(item, visit, bool(paid)) for item, visit, paid in rows], cursors.of(last.voided_at, last.id)
