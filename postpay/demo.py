"""Demo data for ``make run``: idempotent, so running it twice changes nothing."""

import secrets

from postpay.accounts import identity
from postpay.accounts.models import User, utcnow
from postpay.accounts.service import upsert_patient
from postpay.extensions import db
from postpay.family.models import Binding, BindingStatus
from postpay.his.models import Hospital
from postpay.his.service import upsert_hospital
from postpay.security import mask_id_number

#: Verified patients insured in Nantong (3206xx), with their demo WeChat openids.
#: Identity numbers are made up; the check digit is computed.
PATIENTS = [
    ("o-demo-elder", "张建国", "32060219480312001", "320602", "employee"),  # the elder, no phone
    ("o-demo-son", "张晓明", "32060219780605002", "320602", "employee"),  # his son, in Shanghai
    ("o-demo-teen", "李小雨", "32068420100901002", "320684", "resident"),  # a teenager who comes alone
]
HOSPITALS = [
    ("NT01", "南通市第一人民医院", "1900000109"),
    ("HA01", "海安市中医院", "1900000110"),
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
            permissions=["accompany", "pay", "view"],
            status=BindingStatus.active,
            consented_at=utcnow(),
            consent_channel="window",
        )
        db.session.add(binding)
        db.session.flush()
    yield "binding %s 张晓明 -> 张建国 (parent: view, accompany, pay)" % binding.id
    for code, name, mchid in HOSPITALS:
        existing = Hospital.query.filter_by(code=code).one_or_none()
        secret = existing.his_secret if existing else secrets.token_urlsafe(24)
        hospital, _ = upsert_hospital(code, name, mchid, secret)
        yield "hospital %s %s (mchid %s)" % (hospital.code, hospital.name, hospital.mchid)
    db.session.commit()
