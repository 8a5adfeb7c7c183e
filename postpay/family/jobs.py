"""Family jobs: what a revoked binding (R15) leaves to close, queued by ``family.service.revoke``.

The closing itself belongs to the money channels; this module only calls them, so the family
service never imports payments or insurance.
"""

from postpay.clock import utcnow
from postpay.payments.sweeps import close_unauthorised


def close_revoked_work(user_id):
    """After a binding is revoked (R15): the account's pending payments and open settlements for a
    patient it may no longer pay for are closed at WeChat (uploads revoked at the platform) and
    their bills freed. Safe to run twice: what is closed already is skipped."""
    return close_unauthorised(user_id, utcnow())
