"""One open live stream (R16): what it sends, and what ends it.

The stream holds no Redis connection and no database session of its own: the process's hub
(``hub.py``) hands it the visit's messages and runs its heartbeat in a batch. It wakes for a
message, for the hub's word (``check``: run the route's full check now; ``lost``: the slot is
gone; ``reset``: the subscription broke), or after a heartbeat without any, to send a
keep-alive comment (which also notices a client that went away). It ends after
``POSTPAY_SSE_MAX_SECONDS``, and the client reconnects with Last-Event-ID.

Under gevent (``gunicorn.conf.py``) a stream costs a greenlet and a socket; under threads
(the tests' servers) it costs the thread that reads it, as before.
"""

import json
import logging
import queue
import time

from flask import current_app, g, request

from postpay import authz, counters, pushes, stamps
from postpay.accounts.service import TOKEN_KEY
from postpay.api import AUTHENTICATORS
from postpay.billing import privacy
from postpay.errors import DomainError
from postpay.security import token_digest
from postpay.visits import hub as hubs
from postpay.visits.models import Visit

log = logging.getLogger(__name__)


def frame(event):
    return "id: %d\nevent: %s\ndata: %s\n\n" % (event["id"], event["type"], json.dumps(event, ensure_ascii=False))


def visit_for(user, visit_id):
    """A visit the account may accompany (the patient, or a relative with ``accompany``)."""
    return authz.owned(user, Visit, visit_id, "accompany", "未找到该就诊")


class Live:
    """One open stream: its queue on the hub, its slot, and the access check at its heartbeats.

    The WSGI server iterates it and calls ``close()`` when done, even when it never started
    (a client gone before the first byte): the subscription and the slot are given back."""

    def __init__(self, visit_id, slot, stamp, reveal):
        self.visit_id, self.slot, self.stamp = visit_id, slot, stamp
        #: R19: whether this viewer sees sensitive details; checked again at each full check.
        self.reveal = reveal
        # What the checks need once the view has returned and its context is gone.
        self.app, self.environ = current_app._get_current_object(), dict(request.environ)
        self.request_id = g.get("request_id", "-")
        self.heartbeat = float(self.app.config["POSTPAY_SSE_HEARTBEAT_SECONDS"])
        token = request.headers.get("Authorization", "").partition(" ")[2].strip()
        self.token_key = TOKEN_KEY % token_digest(token)
        self.channel = pushes.channel(visit_id)
        self.queue = hubs.new_queue()
        self.overflow = False
        self.seen = self.due = time.monotonic()
        self.hub = hubs.hub(self.app)
        self.closed = False
        self.hub.join(self)  # before the replay, so nothing falls in between

    def put(self, item):
        """From the hub: a message or a word. A stream too slow to keep up ends (and resumes)."""
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            self.overflow = True

    def body(self, missed, last, max_seconds):
        """Replay, then live events; a comment line keeps idle connections open; ends after
        max_seconds, when access ends (``event: revoked``) or when the slot is lost."""
        counters.STREAMS.inc()  # down again in ``finally``, whatever ends the stream
        try:
            yield "retry: 3000\n\n"
            for event in missed:
                last = max(last, event["id"])
                yield frame(event)
            self.hub.beat_for(self)
            deadline = time.monotonic() + max_seconds
            while not self.overflow:
                self.seen = now = time.monotonic()
                if now >= deadline:
                    return
                try:
                    kind, *data = self.queue.get(timeout=min(self.heartbeat, deadline - now))
                except queue.Empty:
                    yield ": keep-alive\n\n"
                    continue
                if kind == "check":
                    refused = self.refused()
                    if refused is not None:
                        reason = {"reason": refused.code, "message": refused.message}
                        yield "event: revoked\ndata: %s\n\n" % json.dumps(reason, ensure_ascii=False)
                        return
                elif kind == "event":
                    event = json.loads(data[0])
                    sensitive = event.pop("sensitive", False)
                    if event["id"] > last:
                        last = event["id"]
                        yield frame(privacy.event_shown(event, sensitive, self.reveal))
                else:  # lost, reset
                    return
        finally:
            counters.STREAMS.dec()
            self.close()

    def close(self):
        if not self.closed:
            self.closed = True
            self.hub.leave(self)
            try:
                self.slot.release()
            except Exception:  # Redis down: the slot lapses by itself a few heartbeats later
                log.warning("slot of a closed stream not released (Redis unavailable)")

    def refused(self):
        """The route's own checks again (the bearer authenticator, then ``visit_for``) in a
        request context of their own: the error that now refuses this stream, or None. Popping
        the context removes its database session, so nothing is held between heartbeats."""
        with self.app.request_context(self.environ):
            g.request_id = self.request_id
            try:
                _, find_caller = AUTHENTICATORS["bearer"]
                user = find_caller()
                visit = visit_for(user, self.visit_id)
                self.reveal = authz.reveals_sensitive(user, visit.patient_id)
            except DomainError as e:
                return e
        return None


class Body:
    """The response body: iterates the stream, and gives its subscription and slot back on
    ``close()`` whether or not it was ever iterated."""

    def __init__(self, live, gen):
        self.live, self.gen = live, gen

    def __iter__(self):
        return self.gen

    def close(self):
        self.live.close()  # the subscription and the slot are given back now
        self.live.put(("reset",))  # wakes the stream if another thread is reading it
        try:
            self.gen.close()
        except ValueError:  # "generator already executing" on that thread: it ends at the word
            pass


def read_stamp(user_id):
    return stamps.read(current_app.extensions["redis"], user_id)
