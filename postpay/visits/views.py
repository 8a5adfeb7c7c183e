"""Live accompany (云伴诊, R16): the visit's timeline, its live event stream, subscribe quotas.

The stream (``GET /visits/{id}/events``) is safe by default:

- Limits. An open stream holds a worker thread, so one account may hold only
  ``POSTPAY_SSE_MAX_PER_ACCOUNT`` streams at once (3), and ``POSTPAY_SSE_MAX_PER_VISIT`` on
  one visit (3); one more gets 429 TOO_MANY_STREAMS. The counts live in Redis
  (``slots.py``: a sorted set per account and per account and visit, claimed by one Lua
  script, so concurrent opens on any worker cannot pass the limit). A stream re-claims its
  slot at each heartbeat and releases it when it ends or its client goes away; the slot of
  a stream whose worker died lapses a few heartbeats later.
- Revocation. At each heartbeat (at most every ``POSTPAY_SSE_HEARTBEAT_SECONDS``, also
  while events flow) the stream runs the route's own checks again: the bearer
  authenticator and ``authz`` through ``visit_for``. When the token was logged out or
  expired, the binding revoked, or ``accompany`` taken away, it sends ``event: revoked``
  with ``{"reason": CODE, "message"}`` and closes. Each check runs in a request context of
  its own, made from the stream's WSGI environ and popped before the next frame is sent
  (its teardown removes the database session), so no connection or transaction stays open
  for the stream's life, and the stream works whichever thread iterates it.
"""

import json
import re
import time

from flask import Blueprint, Response, current_app, g, jsonify, request

from postpay import authz, counters, examples, pushes
from postpay.api import AUTHENTICATORS, INT, STR, iso, loose, obj, route
from postpay.billing import privacy
from postpay.billing.models import Item
from postpay.errors import DomainError
from postpay.extensions import db, redis
from postpay.visits import messages, service, slots
from postpay.visits.models import Visit

bp = Blueprint("visits", __name__, url_prefix="/api/v1")

#: An event's detail is what the HIS sent with it (a room, a report's name...), free-form on purpose.
EVENT = loose(id=INT, type=STR, at=STR, detail={"type": "object", "additionalProperties": True})
ITEM = loose(
    id=STR,
    name=STR,
    category=STR,
    quantity={"type": "number"},
    unit_price_fen=INT,
    amount_fen=INT,
    deferred={"type": "boolean"},
    status=STR,
)


def item_json(item, reveal=True):
    """An item as a viewer sees it: ``reveal`` False for a relative the patient did not share with (R19)."""
    data = {
        "id": item.id,
        "his_item_no": item.his_item_no,
        "name": item.name,
        "category": item.category,
        "quantity": item.quantity_milli / 1000,
        "unit_price_fen": item.unit_price_fen,
        "amount_fen": item.amount_fen,
        "deferred": item.deferred,
        "pay_now_reason": item.pay_now_reason,
        "status": "voided" if item.voided_at else "active",
        "void_reason": item.void_reason,
    }
    return privacy.shown(data, item.sensitive, reveal)


def visit_for(user, visit_id):
    """A visit the account may accompany (the patient, or a relative with ``accompany``)."""
    return authz.owned(user, Visit, visit_id, "accompany", "未找到该就诊")


@route(
    bp,
    "/visits/<visit_id>",
    ["GET"],
    "A visit with its timeline (oldest first) and items",
    examples=examples.VISIT,
    answers={
        200: loose(
            visit=loose(id=STR, timeline={"type": "array", "items": EVENT}, items={"type": "array", "items": ITEM})
        )
    },
    errors={403: ("PERMISSION_DENIED",)},
)
def show(visit_id):
    visit = visit_for(g.user, visit_id)
    items = db.session.execute(db.select(Item).where(Item.visit_id == visit.id).order_by(Item.created_at)).scalars()
    reveal = authz.reveals_sensitive(g.user, visit.patient_id)
    return jsonify(
        {
            "visit": {
                "id": visit.id,
                "patient_id": visit.patient_id,
                "hospital": {"id": visit.hospital.id, "name": visit.hospital.name},
                "department": visit.department,
                "doctor": visit.doctor,
                "registered_at": iso(visit.registered_at),
                "finished_at": iso(visit.finished_at),
                "postpay": visit.postpay,
                "reasons": visit.reasons,
                "bill_id": visit.bill_id,
                "timeline": [service.event_json(e, reveal) for e in service.timeline(visit)],
                "items": [item_json(i, reveal) for i in items],
            }
        }
    )


@route(
    bp,
    "/visits/<visit_id>/events",
    ["GET"],
    "Live visit events (Server-Sent Events); Last-Event-ID replays; ends with event: revoked when access ends",
    answers={200: "text/event-stream", 429: loose(error=loose(code=STR, message=STR))},
    headers={
        "Last-Event-ID": {
            "required": False,
            "description": "the id of the last event received: a reconnecting client gets the events after it",
            "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
        }
    },
    errors={403: ("PERMISSION_DENIED",), 429: ("TOO_MANY_STREAMS",)},
)
def stream(visit_id):
    visit = visit_for(g.user, visit_id)
    last = request.headers.get("Last-Event-ID", "0")
    last = int(last) if re.fullmatch(r"[0-9]{1,18}", last) else 0  # str.isdigit() takes "²"
    cfg = current_app.config
    slot = slots.open_slot(g.user.id, visit.id, cfg)
    try:
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(pushes.channel(visit.id))  # before the replay, so nothing falls in between
        reveal = authz.reveals_sensitive(g.user, visit.patient_id)
        missed = [service.event_json(e, reveal) for e in service.events_after(visit.id, last)]
    except BaseException:
        slot.release()
        raise
    live = Live(visit.id, pubsub, slot, cfg["POSTPAY_SSE_HEARTBEAT_SECONDS"], reveal)
    body = live.events(missed, last, cfg["POSTPAY_SSE_MAX_SECONDS"])
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(body, mimetype="text/event-stream", headers=headers)


def _frame(event):
    return "id: %d\nevent: %s\ndata: %s\n\n" % (event["id"], event["type"], json.dumps(event, ensure_ascii=False))


class Live:
    """One open stream: its subscription, its slot, and the access check at each heartbeat."""

    def __init__(self, visit_id, pubsub, slot, heartbeat, reveal):
        self.visit_id, self.pubsub, self.slot, self.heartbeat = visit_id, pubsub, slot, heartbeat
        #: R19: whether this viewer sees sensitive details; checked again at each heartbeat.
        self.reveal = reveal
        # What the checks need once the view has returned and its context is gone.
        self.app, self.environ = current_app._get_current_object(), dict(request.environ)
        self.request_id = g.get("request_id", "-")

    def events(self, missed, last, max_seconds):
        """Replay, then live events; a comment line keeps idle connections open; ends after
        max_seconds, when access ends (``event: revoked``) or when the slot is lost."""
        counters.STREAMS.inc()  # down again in ``finally``, whatever ends the stream
        try:
            yield "retry: 3000\n\n"
            for event in missed:
                last = max(last, event["id"])
                yield _frame(event)
            deadline = time.monotonic() + max_seconds
            check_at = time.monotonic() + self.heartbeat
            while time.monotonic() < deadline:
                if time.monotonic() >= check_at:
                    refused = self.refused()
                    if refused is not None:
                        reason = {"reason": refused.code, "message": refused.message}
                        yield "event: revoked\ndata: %s\n\n" % json.dumps(reason, ensure_ascii=False)
                        return
                    if not self.slot.claim():  # lapsed and taken by another stream of the account
                        return
                    check_at = time.monotonic() + self.heartbeat
                wait = min(check_at, deadline) - time.monotonic()
                message = self.pubsub.get_message(timeout=max(wait, 0.01))
                if message is None:
                    yield ": keep-alive\n\n"
                    continue
                event = json.loads(message["data"])
                sensitive = event.pop("sensitive", False)
                if event["id"] > last:
                    last = event["id"]
                    yield _frame(privacy.event_shown(event, sensitive, self.reveal))
        finally:
            counters.STREAMS.dec()
            self.pubsub.close()
            self.slot.release()

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


@route(
    bp,
    "/subscriptions",
    ["POST"],
    "Report subscribe-message templates the user accepted (one quota each)",
    body=obj(
        ["template_ids"],
        template_ids={"type": "array", "minItems": 1, "maxItems": 10, "items": {"type": "string", "maxLength": 64}},
    ),
    answers={200: loose(quotas={"type": "object", "additionalProperties": INT})},  # template id -> messages left
)
def subscriptions():
    return jsonify({"quotas": messages.add_quota(g.user, g.body["template_ids"])})
