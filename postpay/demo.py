"""Demo data for ``make run``: idempotent, so running it twice changes nothing."""

from postpay.accounts import identity
from postpay.accounts.models import utcnow
from postpay.accounts.service import upsert_patient
from postpay.extensions import db
from postpay.security import mask_id_number

#: Verified patients insured in Nantong (3206xx). Identity numbers are made up, with valid check digits.
PATIENTS = [
    ("张建国", "32060219480312001", "320602", "employee"),  # the elder
    ("张晓明", "32060219780605002", "320602", "employee"),  # the elder's son, lives in Shanghai
    ("李小雨", "32068420100901002", "320684", "resident"),  # a teenager who comes alone
]


def demo_id_number(first17):
    return first17 + identity.check_digit(first17)


def load():
    """Create or refresh the demo patients; yields one line per patient."""
    for name, first17, region, itype in PATIENTS:
        number = demo_id_number(first17)
        birth, sex = identity.parse(number)
        patient = upsert_patient(name, number, birth, sex)
        patient.insured_region, patient.insurance_type, patient.insured_status = region, itype, "normal"
        patient.verified_at = patient.verified_at or utcnow()
        db.session.flush()
        yield "patient %s %s %s" % (patient.id, name, mask_id_number(number))
    db.session.commit()
