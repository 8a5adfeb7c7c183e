"""The "auto jump" (R6 with R9): a patient who signs on the day of a visit registered before the
contract, while nothing of that visit was charged or paid out of pocket, gets the rest of that
visit post-pay. A visit with any item already (every item of a pay-as-you-go visit is charged to
pay now, or was paid early) stays pay-as-you-go (R9).

The visit is looked at again whenever the HIS touches it (a retried registration, items, an
event, ``GET /his/v1/visits/{no}``): the HIS learns of the change from that very answer.
"""

import logging

from postpay.billing import service as billing
from postpay.billing.models import Item
from postpay.clock import local_date
from postpay.contracts import eligibility
from postpay.extensions import db

log = logging.getLogger(__name__)


def jump_if_signed(visit):
    """Turn the pay-as-you-go ``visit`` post-pay when the auto jump applies; True when it did."""
    if visit.postpay or visit.exclusion or visit.finished_at is not None:
        return False
    contract = eligibility.active_contract(visit.patient_id)
    day = local_date(visit.registered_at)
    if contract is None or contract.signed_at < visit.registered_at or local_date(contract.signed_at) != day:
        return False  # signed before registering (the visit was decided on other grounds) or another day
    if db.session.execute(db.select(Item.id).where(Item.visit_id == visit.id).limit(1)).first():
        return False  # R9: something was charged or paid out of pocket already
    if eligibility.evaluate(visit.patient, on=day):
        return False
    visit.postpay, visit.reasons = True, []
    visit.bill = billing.open_bill_for(visit.patient_id, visit.hospital_id, day)
    db.session.flush()
    log.info("visit %s turned post-pay: signed on its day before any charge (R6, R9)", visit.id)
    return True
