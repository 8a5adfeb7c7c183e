"""Hospitals on the hub."""

from postpay.extensions import db
from postpay.hospitals.models import Hospital


def upsert_hospital(code, name, mchid, his_secret):
    """Create or update the hospital with ``X-Hospital-Id`` ``code``; returns it and whether it is new."""
    hospital = Hospital.query.filter_by(code=code).one_or_none()
    created = hospital is None
    if created:
        hospital = Hospital(code=code)
        db.session.add(hospital)
    hospital.name, hospital.mchid, hospital.his_secret = name, mchid, his_secret
    db.session.flush()
    return hospital, created
