"""Access stamps: a counter in Redis per account, bumped after every commit that writes a row
the authorization of that account reads (``authz``: its ``users`` row, the bindings it asked
for). An open live stream (R16) notes the stamp when it opens; at each heartbeat it runs the
route's full check again only when the stamp moved or its bearer token is gone (logout,
expiry), and otherwise keeps its slot with a batched claim (``visits/hub.py``).

The stamps are bumped by a SQLAlchemy flush listener, so no write path can forget them: any
ORM insert, update or delete of a ``User`` or ``Binding`` counts. Bulk ``UPDATE``/``DELETE``
statements on those tables bypass the flush; there are none, keep it so (or bump here).
A bump of a write that changed nothing that matters (or was rolled back) costs one extra
full check: nothing is dropped on rollback, so a savepoint's rollback cannot lose a bump.
"""

import logging

from flask import has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from postpay.accounts.models import User
from postpay.extensions import redis
from postpay.family.models import Binding

log = logging.getLogger(__name__)

_PENDING = "access_stamps"


def key(user_id):
    """The account's stamp; its hash tag puts it in the Redis Cluster slot of its stream slots."""
    return "sse:{%s}:access" % user_id


def read(client, user_id):
    value = client.get(key(user_id))
    return value or b"0"


def bump(client, user_ids):
    pipe = client.pipeline(transaction=False)
    for user_id in sorted(user_ids):
        pipe.incr(key(user_id))
        pipe.expire(key(user_id), 86400)  # no stream outlives a day: a lost stamp reads as changed
    pipe.execute()


def _accounts(row):
    if isinstance(row, User):
        return {row.id}
    if isinstance(row, Binding):
        return {row.user_id}
    return set()


@event.listens_for(Session, "after_flush")
def _collect(session, _context):
    touched = set()
    for row in (*session.new, *session.dirty, *session.deleted):
        touched |= _accounts(row)
    touched.discard(None)
    if touched:
        session.info.setdefault(_PENDING, set()).update(touched)


@event.listens_for(Session, "after_commit")
def _bump(session):
    touched = session.info.pop(_PENDING, None)
    if not touched or not has_app_context():
        return
    try:
        bump(redis, touched)
    except Exception:  # the commit stands; streams then wait for their token or the 300 s end
        log.exception("access stamps of %d accounts not bumped", len(touched))
