"""Demo data for ``make run``: idempotent, so running it twice changes nothing."""

import datetime as dt
import random
import secrets
import struct
import zlib

from flask import current_app

from postpay.accounts import identity
from postpay.accounts.models import User
from postpay.accounts.service import upsert_patient
from postpay.booking import service as booking
from postpay.clock import day_start, today, utcnow
from postpay.contracts import commitment
from postpay.contracts.eligibility import active_contract
from postpay.contracts.models import Channel, Contract, ContractStatus
from postpay.devkeys import DEMO_SUB_MCHIDS
from postpay.extensions import db
from postpay.family.models import Binding, BindingStatus
from postpay.his import simulate
from postpay.hospitals.models import Hospital
from postpay.hospitals.service import upsert_hospital
from postpay.security import mask_id_number
from postpay.visits.models import Visit

#: Verified patients insured in Nantong (3206xx), with their demo WeChat openids.
#: Identity numbers are made up; the check digit is computed.
PATIENTS = [
    ("o-demo-elder", "张建国", "32060219480312001", "320602", "employee"),  # the elder, no phone
    ("o-demo-son", "张晓明", "32060219780605002", "320602", "employee"),  # his son, in Shanghai
    ("o-demo-teen", "李小雨", "32068420100901002", "320684", "resident"),  # a teenager who comes alone
]
#: Their merchant ids are sub-merchants the sandbox knows (``SANDBOX_WECHATPAY_SUB_MCHIDS`` of postpay.devkeys).
#: Then 定点医药机构编号 (H + the county's 6-digit division + a serial) and Tencent's med-ins city id.
#: MEDINS_CITY_ID_NANTONG: Tencent issues city ids to the hospital with the med-ins contract and no public list
#: was found; Nantong's prefecture division code stands in (plausible, unverified). Both hospitals are in Nantong.
MEDINS_CITY_ID_NANTONG = "320600"
HOSPITALS = [
    ("NT01", "南通市第一人民医院", DEMO_SUB_MCHIDS[0], "H32060200001", MEDINS_CITY_ID_NANTONG),
    ("HA01", "海安市中医院", DEMO_SUB_MCHIDS[1], "H32068500002", MEDINS_CITY_ID_NANTONG),
]


def demo_id_number(first17):
    return first17 + identity.check_digit(first17)


def load():
    """Create or refresh the demo data; yields one line per thing."""
    users = {}
    for openid, name, first17, region, itype in PATIENTS:
        number = demo_id_number(first17)
        birth, sex = identity.parse(number)
        patient = upsert_patient(name, number, birth, sex)
        patient.insured_region, patient.insurance_type, patient.insured_status = region, itype, "normal"
        patient.verified_at = patient.verified_at or utcnow()
        patient.verified_by = patient.verified_by or "e_voucher"
        user = User.query.filter_by(openid=openid).one_or_none() or User(openid=openid)
        user.patient = patient
        db.session.add(user)
        db.session.flush()
        users[openid] = user
        yield "patient %s %s %s (WeChat openid %s)" % (patient.id, name, mask_id_number(number), openid)
    son, elder = users["o-demo-son"], users["o-demo-elder"]
    binding = Binding.query.filter_by(user_id=son.id, relative_patient_id=elder.patient_id).first()
    if binding is None:
        binding = Binding(
            user_id=son.id,
            relative_patient_id=elder.patient_id,
            relationship="parent",
            # 张建国 consented at the window: his son may also spend his employee personal account (共济).
            permissions=["accompany", "book", "mutual_aid", "pay", "view"],
            status=BindingStatus.active,
            consented_at=utcnow(),
            consent_channel="window",
        )
        db.session.add(binding)
        db.session.flush()
    yield "binding %s 张晓明 -> 张建国 (parent: %s)" % (binding.id, ", ".join(binding.permissions))
    for code, name, mchid, med_inst_no, city_id in HOSPITALS:
        existing = Hospital.query.filter_by(code=code).one_or_none()
        secret = existing.his_secret if existing else secrets.token_urlsafe(24)
        hospital, _ = upsert_hospital(code, name, mchid, secret, med_inst_no, city_id)
        yield "hospital %s %s (mchid %s)" % (hospital.code, hospital.name, hospital.mchid)
        yield _schedules(hospital)
    if active_contract(elder.patient_id) is None:
        version = commitment.current_version()
        db.session.add(
            Contract(
                patient_id=elder.patient_id,
                status=ContractStatus.active,
                channel=Channel.miniprogram,
                commitment_version=version,
                commitment_sha256=commitment.digest(version),
                phone="13800000000",
                signer_user_id=son.id,
                guarantor_patient_id=son.patient_id,
                signature_png=_signature(),
            )
        )
    yield "contract: 张晓明 signed for 张建国 as guarantor (post-pay active)"
    db.session.commit()
    yield from _visits(elder.patient)


#: (department, doctor, first hour, fee in fen): the demo's slots, four half hours a morning (R15).
SCHEDULES = [("心内科", "王医生", 8, 1200), ("老年病科", "陈医生", 9, 1500)]


def _schedules(hospital, days=3):
    """The next ``days`` days' slots of the demo doctors (republishing them changes nothing)."""
    count = 0
    for offset in range(1, days + 1):
        day = today() + dt.timedelta(days=offset)
        for department, doctor, hour, fee in SCHEDULES:
            slots = []
            for n in range(4):
                start = day_start(day, dt.time(hour)) + dt.timedelta(minutes=30 * n)
                no = "%s-%s-%s%02d" % (hospital.code, day.strftime("%Y%m%d"), doctor[0], hour * 2 + n)
                slots.append(
                    {
                        "his_slot_id": no,
                        "start": start,
                        "end": start + dt.timedelta(minutes=30),
                        "capacity": 5,
                        "fee_fen": fee,
                    }
                )
            count += len(booking.publish(hospital, department, doctor, day, slots))
    return "schedules %s: %d slots over the next %d days" % (hospital.code, count, days)


def _visits(elder):
    """Two finished visits (two due bills: one for the payment walk-through, one for the insurance
    one) and today's running one, through the signed HIS API."""
    hospital = Hospital.query.filter_by(code="NT01").one()
    transport = simulate.Transport(hospital.code, hospital.his_secret, client=current_app.test_client())
    patient = {"name": elder.name, "id_number": elder.id_number}
    for day, finish, label in (
        (today() - dt.timedelta(days=2), True, "finished, bill due"),
        (today() - dt.timedelta(days=1), True, "finished, bill due"),
        (today(), False, "running"),
    ):
        number = 9000 + day.day
        no = "%s-%s-%04d" % (hospital.code, day.strftime("%Y%m%d"), number)
        if Visit.query.filter_by(hospital_id=hospital.id, his_visit_no=no).first() is None:
            simulate.simulate_visit(transport, patient, day, random.Random(number), number, finish=finish)
        yield "visit %s of 张建国 at %s: %s" % (no, hospital.name, label)


def _signature():
    """A small hand-drawn-looking PNG for the demo contract."""
    width, height = 300, 100
    rows = b"".join(
        b"\x00" + bytes(0 if abs(y - 50 - 20 * ((x // 30) % 2)) < 2 else 255 for x in range(width))
        for y in range(height)
    )

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
