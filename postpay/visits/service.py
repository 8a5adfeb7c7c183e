"""What the HIS reports: visit start (R9), items (R2, R4, R9), events (R11, R14, R16).

Every call is idempotent on the HIS's own numbers: a retry changes nothing and
gets the same answer; the same number with other content gets 409.
"""

import logging
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.exc import IntegrityError

from postpay import pushes, queue
from postpay.accounts import identity
from postpay.accounts.service import find_patient, upsert_patient
from postpay.api import iso
from postpay.billing import privacy
from postpay.billing import service as billing
from postpay.billing.models import BillStatus, Item
from postpay.clock import local_date, utcnow
from postpay.contracts import eligibility
from postpay.errors import Conflict, Invalid, NotFound
from postpay.extensions import db
from postpay.visits.jump import jump_if_signed
from postpay.visits.models import Visit, VisitEvent

log = logging.getLogger(__name__)

#: Events worth a subscribe message (R16).
KEY_EVENTS = ("called", "report_ready", "visit_finished")
EXCLUDED = eligibility.Reason("EXCLUDED_VISIT", "本次就诊属于不适用先诊疗后付费的情形", "R2")


def amount_for(quantity_milli, unit_price_fen):
    """The documented rule: amount_fen = quantity x unit_price_fen, rounded half up to whole fen."""
    exact = Decimal(quantity_milli) * Decimal(unit_price_fen) / Decimal(1000)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_milli(quantity):
    """A JSON quantity as exact thousandths. Raises Invalid beyond three decimals."""
    exact = Decimal(str(quantity)) * 1000
    if exact != exact.to_integral_value():
        raise Invalid("数量最多保留三位小数", code="INVALID_QUANTITY")
    return int(exact)


def visit_by_no(hospital, his_visit_no, lock=False):
    query = db.select(Visit).where(Visit.hospital_id == hospital.id, Visit.his_visit_no == his_visit_no)
    visit = db.session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if visit is None:
        raise NotFound("未找到该就诊", code="VISIT_NOT_FOUND")
    return visit


def his_visit(hospital, his_visit_no, lock=False):
    """The visit as the HIS touches it: a pay-as-you-go one signed for since turns post-pay (R6, R9)."""
    visit = visit_by_no(hospital, his_visit_no, lock=lock)
    jump_if_signed(visit)
    return visit


def register_visit(hospital, data):
    """Start a visit; post-pay is decided now, once, by the eligibility service (R9).

    The patient is matched by the identity number's blind index; an unknown one is
    created unverified. Raises Invalid (INVALID_ID_NUMBER, UNKNOWN_EXCLUSION), Conflict.
    """
    existing = db.session.execute(
        db.select(Visit).where(Visit.hospital_id == hospital.id, Visit.his_visit_no == data["his_visit_no"])
    ).scalar_one_or_none()
    if existing is not None:
        return _same_visit(existing, data)
    try:
        birth, sex = identity.parse(data["patient"]["id_number"])
    except ValueError as e:
        raise Invalid(str(e), code="INVALID_ID_NUMBER") from None
    exclusion = data.get("exclusion")
    if exclusion and exclusion not in hospital.excluded_kinds:
        raise Invalid("不适用情形代码未知: %s" % exclusion, code="UNKNOWN_EXCLUSION")
    patient = find_patient(data["patient"]["id_number"])
    if patient is None:
        patient = upsert_patient(data["patient"]["name"], data["patient"]["id_number"], birth, sex)
        db.session.flush()
    registered_at = data["registered_at"]
    day = local_date(registered_at)
    reasons = eligibility.evaluate(patient, on=day) + ([EXCLUDED] if exclusion else [])
    visit = Visit(
        hospital_id=hospital.id,
        his_visit_no=data["his_visit_no"],
        patient_id=patient.id,
        department=data["department"],
        doctor=data["doctor"],
        registered_at=registered_at,
        postpay=not reasons,
        reasons=[r.as_json() for r in reasons],
        exclusion=exclusion,
    )
    if visit.postpay:
        visit.bill_id = billing.open_bill_for(patient.id, hospital.id, day).id
    try:
        with db.session.begin_nested():
            db.session.add(visit)
    except IntegrityError:  # the same visit, registered concurrently
        return _same_visit(visit_by_no(hospital, data["his_visit_no"]), data)
    log.info("visit %s registered (postpay=%s)", visit.id, visit.postpay)
    return visit


def _same_visit(visit, data):
    if identity.normalize(data["patient"]["id_number"]) != visit.patient.id_number:
        raise Conflict("该就诊号已登记给其他患者", code="VISIT_CONFLICT")
    jump_if_signed(visit)
    return visit


def add_items(hospital, his_visit_no, items):
    """Take in charges; answer which are deferred (R2, R4, R9). Raises NotFound, Invalid, Conflict."""
    visit = his_visit(hospital, his_visit_no, lock=True)
    bill = visit.bill
    answers = []
    for data in items:
        quantity = to_milli(data["quantity"])
        if amount_for(quantity, data["unit_price_fen"]) != data["amount_fen"]:
            raise Invalid("项目%s金额与数量×单价不符（按四舍五入到分）" % data["his_item_no"], code="AMOUNT_MISMATCH")
        existing = db.session.execute(
            db.select(Item).where(Item.visit_id == visit.id, Item.his_item_no == data["his_item_no"])
        ).scalar_one_or_none()
        if existing is not None:
            if (existing.category, existing.name, existing.quantity_milli, existing.amount_fen) != (
                data["category"],
                data["name"],
                quantity,
                data["amount_fen"],
            ):
                raise Conflict("项目%s已登记且内容不同" % data["his_item_no"], code="ITEM_CONFLICT")
            answers.append(existing)
            continue
        exclusion = data.get("exclusion")
        if exclusion and exclusion not in hospital.excluded_kinds:
            raise Invalid("不适用情形代码未知: %s" % exclusion, code="UNKNOWN_EXCLUSION")
        reason = _pay_now_reason(visit, bill, hospital, data)
        item = Item(
            visit_id=visit.id,
            bill_id=bill.id if reason is None else None,
            his_item_no=data["his_item_no"],
            category=data["category"],
            name=data["name"],
            quantity_milli=quantity,
            unit_price_fen=data["unit_price_fen"],
            amount_fen=data["amount_fen"],
            exclusion=exclusion,
            deferred=reason is None,
            pay_now_reason=reason,
            sensitive=privacy.is_sensitive(hospital, data["category"], data["name"], data.get("sensitive")),
        )
        db.session.add(item)
        answers.append(item)
    db.session.flush()
    if bill is not None:
        billing.recompute_total(bill)
    return answers


def _pay_now_reason(visit, bill, hospital, data):
    if not visit.postpay:
        return "PAYG"  # R9: started unsigned, stays pay-as-you-go
    if data.get("paid"):
        return "PAID_EARLY"  # R9: paid at the window already, never billed again
    if data["category"] in hospital.pay_now_categories:
        return "CATEGORY"  # R4
    if data.get("exclusion") or visit.exclusion:
        return "EXCLUDED"  # R2
    if bill is None or bill.status != BillStatus.open:
        return "BILL_FINALISED"
    return None


def add_event(hospital, his_visit_no, type_, at, detail):
    """Record a visit event (out-of-order welcome: the timeline is ordered by ``at``).

    Effects: ``visit_finished`` finalises the day bill once every visit on it has
    finished (R11); ``admitted``/``discharged`` hold or release the unpaid bills (R14).
    Returns ``(event, created)``.
    """
    visit = his_visit(hospital, his_visit_no, lock=True)
    existing = db.session.execute(
        db.select(VisitEvent).where(VisitEvent.visit_id == visit.id, VisitEvent.type == type_, VisitEvent.at == at)
    ).scalar_one_or_none()
    if existing is not None:
        return existing, False
    visit.last_seq += 1
    sensitive = _names_sensitive(hospital, visit, detail or {})
    event = VisitEvent(
        visit_id=visit.id, seq=visit.last_seq, type=type_, at=at, detail=detail or {}, sensitive=sensitive
    )
    db.session.add(event)
    db.session.flush()
    if type_ == "visit_finished" and visit.finished_at is None:
        visit.finished_at = at
        if visit.bill is not None:
            billing.finalise_if_all_visits_finished(visit.bill, min(at, utcnow()))
            if visit.bill.status == BillStatus.due:
                pushes.after_commit(queue.enqueue, "postpay.visits.messages.send_bill_due_messages", visit.bill.id)
    elif type_ in ("admitted", "discharged"):
        _apply_admission(visit.patient_id)
    db.session.flush()
    pushes.after_commit(pushes.publish_event, visit.id, event_json(event) | {"sensitive": event.sensitive})
    if type_ in KEY_EVENTS:
        pushes.after_commit(queue.enqueue, "postpay.visits.messages.send_event_messages", event.id)
    return event, True


def _apply_admission(patient_id):
    """R14: the latest admitted/discharged event by ``at`` decides, whatever order they arrived in."""
    latest = db.session.execute(
        db.select(VisitEvent)
        .join(Visit, Visit.id == VisitEvent.visit_id)
        .where(Visit.patient_id == patient_id, VisitEvent.type.in_(("admitted", "discharged")))
        .order_by(VisitEvent.at.desc(), VisitEvent.seq.desc())
        .limit(1)
    ).scalar_one()
    billing.set_hold(patient_id, latest.type == "admitted", latest.at)


def _names_sensitive(hospital, visit, detail):
    """R19: an event is sensitive when its detail names a sensitive item of the visit, by
    ``his_item_no`` or by a text on the hospital's sensitive list."""
    if privacy.mentions(hospital, detail):
        return True
    number = detail.get("his_item_no")
    if not isinstance(number, str):
        return False
    query = db.select(Item.sensitive).where(Item.visit_id == visit.id, Item.his_item_no == number)
    return bool(db.session.execute(query).scalar_one_or_none())


def event_json(event, reveal=True):
    """An event as a viewer sees it: ``reveal`` False for a relative the patient did not share with (R19)."""
    data = {"id": event.seq, "type": event.type, "at": iso(event.at), "detail": event.detail}
    return privacy.event_shown(data, event.sensitive, reveal)


def void(hospital, his_visit_no, his_item_no, reason):
    """The HIS voids an item: off the bill, or refunded when the bill was paid. Raises NotFound."""
    visit = visit_by_no(hospital, his_visit_no, lock=True)
    item = db.session.execute(
        db.select(Item).where(Item.visit_id == visit.id, Item.his_item_no == his_item_no)
    ).scalar_one_or_none()
    if item is None:
        raise NotFound("未找到该项目", code="ITEM_NOT_FOUND")
    billing.void_item(item, reason)
    return item


def timeline(visit):
    """The visit's events, oldest first by when they happened."""
    query = db.select(VisitEvent).where(VisitEvent.visit_id == visit.id).order_by(VisitEvent.at, VisitEvent.seq)
    return db.session.execute(query).scalars().all()


def events_after(visit_id, seq):
    """Events that arrived after ``seq``, in arrival order (Last-Event-ID replay)."""
    query = db.select(VisitEvent).where(VisitEvent.visit_id == visit_id, VisitEvent.seq > seq).order_by(VisitEvent.seq)
    return db.session.execute(query).scalars().all()
