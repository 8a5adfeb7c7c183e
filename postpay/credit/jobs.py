"""Credit jobs: sending the reminders (R17) the reminder sweep claimed, one commit each."""

import logging

from postpay.credit.service import send_reminder as send
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
