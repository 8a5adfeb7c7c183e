"""Pushes wait for the commit (DESIGN 8): live events, queued jobs and messages are
collected during the request and sent only once the database has the change."""

import json
import logging

from flask import g, has_app_context

from postpay.extensions import redis

log = logging.getLogger(__name__)


def after_commit(fn, *args):
    """Run ``fn(*args)`` after the current unit of work commits (dropped on rollback)."""
    if has_app_context():
        g.setdefault("after_commit", []).append((fn, args))


def discard():
    if has_app_context():
        g.pop("after_commit", None)


def flush():
    """Run what waited for the commit. A failing push is logged, never undoes the commit."""
    for fn, args in g.pop("after_commit", []) if has_app_context() else []:
        try:
            fn(*args)
        except Exception:
            log.exception("push %s failed after commit", getattr(fn, "__name__", fn))


def channel(visit_id):
    return "visit:%s" % visit_id


def publish_event(visit_id, payload):
    """Fan a visit event out to every SSE subscriber, on any worker (Redis pub/sub)."""
    redis.publish(channel(visit_id), json.dumps(payload, ensure_ascii=False))
