"""What the window console does, as rules: lookup, the patient's page, window signing
(R6, R7) and consent (R15), the disputes queue (R12) and the credit desk (R17, R18).

Every function takes the signed-in staff account and keeps to its hospital
(an admin's to all); nothing here commits.
"""

import re

from sqlalchemy.orm import selectinload

from postpay.accounts import identity
from postpay.accounts.models import Patient, User
from postpay.accounts.service import find_patient, verify_id_card
from postpay.billing.models import Bill, BillStatus, Dispute, DisputeStatus, Item
from postpay.console.auth import in_scope, scoped
from postpay.contracts import eligibility
from postpay.contracts import service as contracts
from postpay.contracts.models import Channel
from postpay.credit.models import CreditRecord
from postpay.credit.standing import standing
from postpay.errors import Invalid, NotFound
from postpay.extensions import db
from postpay.family import service as family
from postpay.family.models import Binding
from postpay.insurance.models import InsuranceRefund
from postpay.payments.models import Refund
from postpay.security import blind_index
from postpay.visits.models import Visit

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
NOT_CONFIRMED = "医保平台核验未通过：姓名与身份证号不一致，或该身份证号未参保，请核对身份证件"


def lookup(text):
    """The patient with this identity number (blind index) or account phone. Raises Invalid, NotFound."""
    text = (text or "").strip().upper()
    if PHONE_RE.match(text):
        user = User.query.filter(User.phone_index == blind_index(text, "phone"), User.patient_id.isnot(None)).first()
        patient = user.patient if user else None
    else:
        try:
            identity.parse(text)
        except ValueError:
            raise Invalid("请输入18位身份证号或11位手机号", code="BAD_LOOKUP") from None
        patient = find_patient(text)
    if patient is None:
        raise NotFound("未找到该患者", code="PATIENT_NOT_FOUND")
    return patient


def patient_or_404(patient_id):
    patient = db.session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("未找到该患者", code="PATIENT_NOT_FOUND")
    return patient


def bill_refunds(bill_ids):
    """bill id -> its refunds, WeChat and medical-insurance (6203) alike, oldest first, each as
    ``{"kind", "amount_fen", "status", "reason", "created_at"}``; two queries."""
    found = {}
    if not bill_ids:
        return found
    rows = [("wechat", r) for r in Refund.query.filter(Refund.bill_id.in_(bill_ids))]
    rows += [("medins", r) for r in InsuranceRefund.query.filter(InsuranceRefund.bill_id.in_(bill_ids))]
    for kind, r in sorted(rows, key=lambda row: (row[1].created_at, row[1].id)):
        found.setdefault(r.bill_id, []).append(
            {"kind": kind, "amount_fen": r.amount_fen, "status": r.status.value, "reason": r.reason}
            | {"created_at": r.created_at}
        )
    return found


def patient_page(staff, patient):
    """Everything the window needs about one patient, the bills and visits of the staff's hospital only."""
    bills = (
        db.session.execute(
            scoped(db.select(Bill), Bill.hospital_id, staff)
            .where(Bill.patient_id == patient.id)
            .options(selectinload(Bill.hospital), selectinload(Bill.visits).selectinload(Visit.items))
            .order_by(Bill.visit_day.desc(), Bill.part.desc())
            .limit(50)
        )
        .scalars()
        .all()
    )
    bindings = (
        db.session.execute(
            db.select(Binding)
            .where(db.or_(Binding.relative_patient_id == patient.id, Binding.user.has(User.patient_id == patient.id)))
            .options(selectinload(Binding.user).selectinload(User.patient), selectinload(Binding.relative))
            .order_by(Binding.created_at.desc())
        )
        .scalars()
        .all()
    )
    has_phone = (
        db.session.execute(
            db.select(User.id).where(User.patient_id == patient.id, User.phone.isnot(None)).limit(1)
        ).first()
        is not None
    )
    return {
        "contract": eligibility.active_contract(patient.id),
        "reasons": eligibility.evaluate(patient, need_contract=False),
        "bindings": bindings,
        "bills": bills,
        "has_phone": has_phone,
        "credit": standing(patient.id),
        "refunds": bill_refunds([b.id for b in bills]),
        "pending_disputes": {
            d.item_id: d
            for d in Dispute.query.filter(
                Dispute.bill_id.in_([b.id for b in bills]), Dispute.status == DisputeStatus.pending
            )
        }
        if bills
        else {},
    }


def actor(staff, patient):
    """Who asks for the signing code at the window: this account, for this patient."""
    return "staff:%s:%s" % (staff.id, patient.id)


def send_signing_code(staff, patient, phone, id_checked):
    """R7 at the window: after the ID check, the code goes to the phone the patient gives.

    Raises Invalid (ID_CHECK_REQUIRED, BAD_PHONE, NOT_ELIGIBLE), Conflict, TooMany, Upstream.
    """
    if not id_checked:
        raise Invalid("请先核验患者身份证件", code="ID_CHECK_REQUIRED")
    if not PHONE_RE.match(phone or ""):
        raise Invalid("请输入11位手机号", code="BAD_PHONE")
    contracts.check_can_sign(patient)
    contracts.sms_codes.send(patient.id, phone, actor(staff, patient))


def sign_at_window(staff, patient, version, sms_code, signature_png, client_ip, user_agent):
    """R6 window channel: the patient signed on the pad and entered the code. Raises as contracts.sign."""
    return contracts.sign(
        patient, actor(staff, patient), Channel.window, version, sms_code, signature_png, client_ip, user_agent
    )


def verify_at_window(staff, name, id_number, id_checked):
    """R8 without an e-voucher: staff checked the identity card; 1101 confirms its name and number
    and the person becomes a verified patient (``verified_by`` ``window``). Raises Invalid
    (ID_CHECK_REQUIRED, BAD_NAME, BAD_ID_NUMBER, IDENTITY_NOT_CONFIRMED), Upstream."""
    if not id_checked:
        raise Invalid("请先核验患者身份证件", code="ID_CHECK_REQUIRED")
    if not name.strip():
        raise Invalid("请输入身份证上的姓名", code="BAD_NAME")
    return verify_id_card(name, id_number, "window", NOT_CONFIRMED, "IDENTITY_NOT_CONFIRMED")


def consent_at_window(staff, patient, binding_id, id_checked):
    """R15 at the window, once staff confirmed the ID check. Raises Invalid (ID_CHECK_REQUIRED), as family."""
    if not id_checked:
        raise Invalid("请先核验老人身份证件", code="ID_CHECK_REQUIRED")
    return family.consent_in_person(binding_id, patient.id, "window")


def dispute_queue(staff):
    """Pending disputes (R12) of the staff's hospital, oldest first, with their items and patients."""
    query = (
        db.select(Dispute, Item, Bill, Patient)
        .join(Item, Item.id == Dispute.item_id)
        .join(Bill, Bill.id == Dispute.bill_id)
        .join(Patient, Patient.id == Bill.patient_id)
        .where(Dispute.status == DisputeStatus.pending)
        .order_by(Dispute.created_at)
        .limit(200)
    )
    return db.session.execute(scoped(query, Bill.hospital_id, staff)).all()


def dispute_in_scope(staff, dispute_id):
    dispute = db.session.get(Dispute, dispute_id)
    if dispute is None:
        raise NotFound("未找到该退费核对")
    bill = db.session.get(Bill, dispute.bill_id)
    in_scope(staff, bill.hospital_id)
    return dispute, bill


def bill_in_scope(staff, bill_id):
    bill = db.session.get(Bill, bill_id)
    if bill is None:
        raise NotFound("未找到该账单")
    in_scope(staff, bill.hospital_id)
    return bill


def credit_desk(staff, now):
    """Overdue bills (R17) grouped per patient, and suspended patients (R18), for the hospital.

    One grouped query for the overdue amounts and ages, one for the open records.
    """
    overdue = db.session.execute(
        scoped(
            db.select(
                Bill.patient_id,
                db.func.count(Bill.id),
                db.func.sum(Bill.total_fen),
                db.func.min(Bill.due_at),
            ).where(Bill.status == BillStatus.due, Bill.due_at < now),
            Bill.hospital_id,
            staff,
        ).group_by(Bill.patient_id)
    ).all()
    records = db.session.execute(
        db.select(CreditRecord.patient_id, db.func.min(CreditRecord.created_at))
        .where(CreditRecord.repaired_at.is_(None))
        .group_by(CreditRecord.patient_id)
    ).all()
    suspended = {pid: since for pid, since in records}
    ids = {r[0] for r in overdue} | set(suspended)
    patients = {p.id: p for p in Patient.query.filter(Patient.id.in_(ids))} if ids else {}
    rows = []
    for pid, count, total, oldest in overdue:
        rows.append(
            {
                "patient": patients[pid],
                "bills": count,
                "amount_fen": int(total or 0),
                "days": (now - oldest).days,
                "suspended_since": suspended.pop(pid, None),
            }
        )
    visible = set(suspended)
    if not staff.sees_all and visible:  # suspended at every hospital: show those who were patients here
        here = db.session.execute(
            db.select(Bill.patient_id).where(Bill.patient_id.in_(visible), Bill.hospital_id == staff.hospital_id)
        ).scalars()
        visible &= set(here)
    for pid in visible:
        rows.append(
            {"patient": patients[pid], "bills": 0, "amount_fen": 0, "days": None, "suspended_since": suspended[pid]}
        )
    rows.sort(key=lambda r: (r["suspended_since"] is None, -(r["days"] or 0)))
    return rows
