"""Live accompany (云伴诊, R16): the visit's timeline, its live event stream, subscribe quotas."""

import json
import time

from flask import Blueprint, Response, current_app, g, jsonify, request

from postpay import authz, pushes
from postpay.api import INT, STR, iso, loose, obj, route
from postpay.extensions import db, redis
from postpay.visits import messages, service
from postpay.visits.models import Visit

bp = Blueprint("visits", __name__, url_prefix="/api/v1")

EVENT = loose(id=INT, type=STR, at=STR, detail={"type": "object"})
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


def item_json(item):
    return {
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


def visit_for(user, visit_id):
    """A visit the account may accompany (the patient, or a relative with ``accompany``)."""
    return authz.owned(user, Visit, visit_id, "accompany", "未找到该就诊")


@route(
    bp,
    "/visits/<visit_id>",
    ["GET"],
    "A visit with its timeline (oldest first) and items",
    answers={
        200: loose(
            visit=loose(id=STR, timeline={"type": "array", "items": EVENT}, items={"type": "array", "items": ITEM})
        )
    },
)
def show(visit_id):
    visit = visit_for(g.user, visit_id)
    from postpay.billing.models import Item

    items = db.session.execute(db.select(Item).where(Item.visit_id == visit.id).order_by(Item.created_at)).scalars()
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
                "timeline": [service.event_json(e) for e in service.timeline(visit)],
                "items": [item_json(i) for i in items],
            }
        }
    )


@route(
    bp,
    "/visits/<visit_id>/events",
    ["GET"],
    "Live visit events (Server-Sent Events); Last-Event-ID replays",
    answers={200: "text/event-stream"},
)
def stream(visit_id):
    visit = visit_for(g.user, visit_id)
    last = request.headers.get("Last-Event-ID", "0")
    last = int(last) if last.isdigit() else 0
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(pushes.channel(visit.id))  # before the replay, so nothing falls in between
    missed = [service.event_json(e) for e in service.events_after(visit.id, last)]
    cfg = current_app.config
    body = _events(pubsub, missed, last, cfg["POSTPAY_SSE_HEARTBEAT_SECONDS"], cfg["POSTPAY_SSE_MAX_SECONDS"])
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(body, mimetype="text/event-stream", headers=headers)


def _frame(event):
    return "id: %d\nevent: %s\ndata: %s\n\n" % (event["id"], event["type"], json.dumps(event, ensure_ascii=False))


def _events(pubsub, missed, last, heartbeat, max_seconds):
    """Replay, then live events; a comment line keeps idle connections open; ends after max_seconds."""
    try:
        yield "retry: 3000\n\n"
        for event in missed:
            last = max(last, event["id"])
            yield _frame(event)
        deadline = time.monotonic() + max_seconds
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=min(heartbeat, max(deadline - time.monotonic(), 0.01)))
            if message is None:
                yield ": keep-alive\n\n"
                continue
            event = json.loads(message["data"])
            if event["id"] > last:
                last = event["id"]
                yield _frame(event)
    finally:
        pubsub.close()


@route(
    bp,
    "/subscriptions",
    ["POST"],
    "Report subscribe-message templates the user accepted (one quota each)",
    body=obj(
        ["template_ids"],
        template_ids={"type": "array", "minItems": 1, "maxItems": 10, "items": {"type": "string", "maxLength": 64}},
    ),
    answers={200: loose(quotas={"type": "object"})},
)
def subscriptions():
    return jsonify({"quotas": messages.add_quota(g.user, g.body["template_ids"])})
