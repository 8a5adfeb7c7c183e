"""Hospitals on the hub."""

from postpay.extensions import db
from postpay.hospitals.models import Hospital


def upsert_hospital(code, name, mchid, his_secret, med_inst_no=None, medins_city_id=None, oa_appid=None):
    """Create or update the hospital with ``X-Hospital-Id`` ``code``; returns it and whether it is new.

    ``med_inst_no``, ``medins_city_id`` and ``oa_appid`` keep their stored values when None (not
    given); an empty ``oa_appid`` clears it (the hospital no longer owns an official account)."""
    hospital = Hospital.query.filter_by(code=code).one_or_none()
    created = hospital is None
    if created:
        hospital = Hospital(code=code)
        db.session.add(hospital)
    hospital.name, hospital.mchid, hospital.his_secret = name, mchid, his_secret
    if med_inst_no is not None:
        hospital.med_inst_no = med_inst_no
    if medins_city_id is not None:
        hospital.medins_city_id = medins_city_id
    if oa_appid is not None:
        hospital.oa_appid = oa_appid or None
    db.session.flush()
    return hospital, created
