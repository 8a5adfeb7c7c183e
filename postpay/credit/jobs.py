"""Credit jobs: sending the reminders (R17) the reminder sweep claimed, one commit each, and the
notices of a suspension or a repair (R18)."""

import logging

from postpay.credit.notices import send_credit_notices as notify
from postpay.credit.reminders import send_reminder as send
from postpay.extensions import db

log = logging.getLogger(__name__)


def send_reminders(reminder_ids):
    """Claimed reminders (R17), each an SMS or a subscribe message; one failure does not stop the rest."""
    for reminder_id in reminder_ids:
        try:
            send(reminder_id)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("reminder %s failed", reminder_id)


def send_reminder(reminder_id):
    send_reminders([reminder_id])


def send_credit_notices(event_ids):
    """The notices of credit events (suspended, repaired), each to the patient and paying relatives."""
    for event_id in event_ids:
        try:
            notify(event_id)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("credit notice %s failed", event_id)
