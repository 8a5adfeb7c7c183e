"""P6's city: 10 hospitals as the demo makes them, patients signed for post-pay (R7) with a
relative bound to each (accompany, pay), bearer tokens, and a few overdue bills for the
reminder sweep. Written straight to the database where the demo does so (contracts, bindings),
through the service's own flow where a patient needs the platform (medical-insurance authorization).
"""

import datetime as dt
import json
import secrets

from bench.cityday import model
from bench.common import sub_merchants, wechat_openid
from postpay.accounts import identity
from postpay.accounts.models import User
from postpay.accounts.service import upsert_patient
from postpay.billing.models import Bill, BillStatus
from postpay.clock import utcnow
from postpay.contracts import commitment
from postpay.contracts.models import Channel, Contract, ContractStatus
from postpay.demo import MEDINS_CITY_ID_NANTONG, _signature
from postpay.extensions import db
from postpay.family.models import Binding, BindingStatus
from postpay.hospitals.service import upsert_hospital
from postpay.security import new_token, token_digest

TOKEN_TTL = 6 * 3600
SURNAMES = "赵钱孙李周吴郑王冯陈"
REGIONS = ("320602", "320611", "320612", "320623", "320681", "320682", "320684", "320685")


def id_number(n, year):
    first17 = "%s%04d%02d%02d%03d" % (REGIONS[n % len(REGIONS)], year, 1 + n % 12, 1 + n % 28, n % 1000)
    return first17 + identity.check_digit(first17)


def hospitals(app):
    """10 hospitals, each with its HIS secret, its sub-merchant at WeChat Pay and its med-ins codes."""
    out = []
    with app.app_context():
        for n in range(model.HOSPITALS):
            code, mchid, secret = "CD%02d" % n, "19000088%02d" % n, secrets.token_urlsafe(24)
            name = "南通市第%d人民医院" % (n + 1)
            upsert_hospital(code, name, mchid, secret, "H3206%07d" % n, MEDINS_CITY_ID_NANTONG)
            out.append({"code": code, "mchid": mchid, "secret": secret})
        db.session.commit()
    sub_merchants(app, [h["mchid"] for h in out])
    return out


def _token(redis, user_id):
    token = new_token()
    redis.set("auth:token:" + token_digest(token), user_id, ex=TOKEN_TTL)
    return token


def _person(n, year, name):
    number = id_number(n, year)
    birth, sex = identity.parse(number)
    patient = upsert_patient(name, number, birth, sex)
    patient.insured_region, patient.insurance_type, patient.insured_status = "320602", "employee", "normal"
    patient.verified_at, patient.verified_by = utcnow(), "e_voucher"
    return patient, number


def _insured(app, client, n, name, number):
    """A patient through the service's own 医保授权 flow: it holds a payAuthNo the platform knows."""
    user = User(openid=wechat_openid(app, "o-cd-p%d" % n))
    db.session.add(user)
    db.session.commit()
    token = _token(app.extensions["redis"], user.id)
    person = {
        "name": name,
        "id_number": number,
        "insured_region": "320602",
        "insurance_type": "employee",
        "insured_status": "normal",
        "pay_auth_expires_in": 86400,
    }
    code = client.post("/sandbox/medins/auth-codes", json=person).get_json()["auth_code"]
    resp = client.post(
        "/api/v1/me/insurance-auth", json={"auth_code": code}, headers={"Authorization": "Bearer " + token}
    )
    assert resp.status_code == 200, resp.get_json()
    db.session.expire_all()
    return db.session.get(User, user.id), token


def patients(app, count):
    """``count`` patients, each with a contract, a relative who may accompany and pay, and tokens.
    Every tenth pays through medical insurance."""
    out, version = [], None
    client = app.test_client()
    png = _signature()
    with app.app_context():
        redis = app.extensions["redis"]
        version = commitment.current_version()
        for n in range(count):
            name = SURNAMES[n % 10] + "建" + "国华明英"[n % 4]
            insured = n % int(1 / model.INSURANCE_SHARE) == 0
            if insured:
                number = id_number(n, 1950 + n % 30)
                user, token = _insured(app, client, n, name, number)
                patient = user.patient
            else:
                patient, number = _person(n, 1950 + n % 30, name)
                user = User(openid=wechat_openid(app, "o-cd-p%d" % n), patient=patient)
                db.session.add(user)
            relative, _ = _person(n, 1980 + n % 20, name[0] + "晓" + name[2])
            kin = User(openid=wechat_openid(app, "o-cd-r%d" % n), patient=relative)
            db.session.add(kin)
            db.session.flush()
            db.session.add_all(
                [
                    Binding(
                        user_id=kin.id,
                        relative_patient_id=patient.id,
                        relationship="parent",
                        permissions=["accompany", "pay", "view"],
                        status=BindingStatus.active,
                        consented_at=utcnow(),
                        consent_channel="window",
                    ),
                    Contract(
                        patient_id=patient.id,
                        status=ContractStatus.active,
                        channel=Channel.miniprogram,
                        commitment_version=version,
                        commitment_sha256=commitment.digest(version),
                        phone="139%08d" % n,
                        signer_user_id=kin.id,
                        guarantor_patient_id=relative.id,
                        signature_png=png,
                    ),
                ]
            )
            db.session.commit()
            out.append(
                {
                    "name": name,
                    "id_number": number,
                    "patient_id": patient.id,
                    "token": token if insured else _token(redis, user.id),
                    "relative_token": _token(redis, kin.id),
                    "insured": insured,
                }
            )
    return out


def overdue(app, hospital_codes, count):
    """``count`` bills of their own patients (signed, so reminders have a phone), overdue since an
    hour ago: the job worker's reminder sweep sends their first reminders during the run (R17)."""
    from postpay.hospitals.models import Hospital

    png = _signature()
    with app.app_context():
        version = commitment.current_version()
        ids = [h.id for h in Hospital.query.filter(Hospital.code.in_(hospital_codes))]
        now = utcnow()
        for n in range(count):
            patient, _ = _person(900_000 + n, 1940 + n % 20, "钱" + "老" + "一二三四"[n % 4])
            db.session.add(
                Contract(
                    patient_id=patient.id,
                    status=ContractStatus.active,
                    channel=Channel.window,
                    commitment_version=version,
                    commitment_sha256=commitment.digest(version),
                    phone="138%08d" % n,
                    signature_png=png,
                )
            )
            due = now - dt.timedelta(hours=1)
            db.session.add(
                Bill(
                    patient_id=patient.id,
                    hospital_id=ids[n % len(ids)],
                    visit_day=(now - dt.timedelta(days=1)).date(),
                    status=BillStatus.due,
                    total_fen=5000,
                    finalised_at=due - dt.timedelta(hours=24),
                    due_at=due,
                    next_reminder_at=due,
                )
            )
        db.session.commit()


def write(path, city):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(city, f, ensure_ascii=False)
