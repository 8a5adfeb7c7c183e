"""Live accompany (云伴诊, R16): the visit's timeline, its live event stream, subscribe quotas.

The stream (``GET /visits/{id}/events``) is safe by default:

- Limits. One account may hold only ``POSTPAY_SSE_MAX_PER_ACCOUNT`` streams at once (3),
  and ``POSTPAY_SSE_MAX_PER_VISIT`` on one visit (3); one more gets 429 TOO_MANY_STREAMS.
  The counts live in Redis (``slots.py``: a sorted set per account and per account and
  visit, claimed by one Lua script, so concurrent opens on any worker cannot pass the
  limit). A stream's slot is claimed again at each heartbeat and released when it ends or
  its client goes away; the slot of a stream whose worker died or stalled lapses a few
  heartbeats later.
- Revocation. At each heartbeat (every ``POSTPAY_SSE_HEARTBEAT_SECONDS``, also while events
  flow) the process's hub (``hub.py``) looks, in one Redis pipeline for all its streams due,
  at the account's access stamp (``postpay.stamps``: bumped after any commit that writes a
  row the check reads) and at the bearer token. When either changed, the stream runs the
  route's own checks again: the bearer authenticator and ``authz`` through ``visit_for``.
  When the token was logged out or expired, the binding revoked, or ``accompany`` taken
  away, it sends ``event: revoked`` with ``{"reason": CODE, "message"}`` and closes. Each
  check runs in a request context of its own, made from the stream's WSGI environ and
  popped before the next frame is sent (its teardown removes the database session), so no
  connection or transaction stays open for the stream's life.
- Cost. A stream holds no Redis connection (one pub/sub connection per process, ``hub.py``)
  and, under gevent, no thread (``live.py``).
"""

import re

from flask import Blueprint, Response, current_app, g, jsonify, request

from postpay import authz, examples
from postpay.api import INT, STR, iso, loose, obj, route
from postpay.billing import privacy
from postpay.billing.models import Item
from postpay.extensions import db
from postpay.visits import live, messages, service, slots
from postpay.visits.live import visit_for

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
    stamp = live.read_stamp(g.user.id)  # before the check: a change after it is seen at a heartbeat
    visit = visit_for(g.user, visit_id)
    last = request.headers.get("Last-Event-ID", "0")
    last = int(last) if re.fullmatch(r"[0-9]{1,18}", last) else 0  # str.isdigit() takes "²"
    cfg = current_app.config
    slot = slots.open_slot(g.user.id, visit.id, cfg)
    stream = None
    try:
        reveal = authz.reveals_sensitive(g.user, visit.patient_id)
        stream = live.Live(visit.id, slot, stamp, reveal)  # subscribed before the replay
        missed = [service.event_json(e, reveal) for e in service.events_after(visit.id, last)]
    except BaseException:
        if stream is not None:
            stream.close()
        else:
            slot.release()
        raise
    body = live.Body(stream, stream.body(missed, last, cfg["POSTPAY_SSE_MAX_SECONDS"]))
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(body, mimetype="text/event-stream", headers=headers)


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
