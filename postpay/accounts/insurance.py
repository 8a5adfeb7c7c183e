"""The medical-insurance authorization (payAuthNo) a verified patient holds."""

from postpay.accounts.models import Patient
from postpay.errors import Conflict
from postpay.extensions import db

PAY_AUTH_EXPIRED = "医保授权已过期，请重新进行医保授权"


def pay_auth_no(patient, now):
    """The patient's payAuthNo while the platform says it is valid at ``now``.

    Raises Conflict (409, PAY_AUTH_EXPIRED) when there is none or it has expired:
    the person authorizes again in the 医保授权 mini-program.
    """
    expires = patient.pay_auth_expires_at
    if not patient.pay_auth_no or expires is None or expires <= now:
        raise Conflict(PAY_AUTH_EXPIRED, code="PAY_AUTH_EXPIRED")
    return patient.pay_auth_no


def forget_expired(now):
    """The sweep that drops every payAuthNo the platform no longer honours (R8: an identity
    credential is kept only while it is of use). Returns how many were dropped."""
    done = db.session.execute(
        db.update(Patient)
        .where(Patient.pay_auth_expires_at <= now, Patient.pay_auth_no.is_not(None))
        .values(pay_auth_no=None, pay_auth_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return done.rowcount
