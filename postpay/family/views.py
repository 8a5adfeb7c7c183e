"""Family bindings for the mini-program (R15)."""

from flask import Blueprint, g, jsonify

from postpay import examples
from postpay.api import BOOL, RELATIONSHIP, STR, iso, loose, obj, route
from postpay.family import service
from postpay.family.models import INVERSE, PERMISSIONS, RELATIONSHIPS, BindingStatus
from postpay.security import mask_id_number, mask_name

bp = Blueprint("family", __name__, url_prefix="/api/v1/family")

BINDING = loose(
    id=STR,
    status={"type": "string", "enum": [s.value for s in BindingStatus]},
    relationship=RELATIONSHIP,
    permissions={"type": "array", "items": STR},
    share_sensitive=BOOL,
)


def binding_json(binding, side):
    """A binding as ``side`` ("asked" or "received") sees it; the relative's patient id only once active."""
    active = binding.status == BindingStatus.active
    other = binding.relative if side == "asked" else (binding.user.patient if binding.user else None)
    data = {
        "id": binding.id,
        "status": binding.status.value,
        # What the other side is to the one who reads it: the asker's word, or its inverse.
        "relationship": binding.relationship if side == "asked" else INVERSE[binding.relationship],
        "permissions": list(binding.permissions),
        "share_sensitive": binding.share_sensitive,
        "created_at": iso(binding.created_at),
        "consented_at": iso(binding.consented_at),
    }
    if other is not None:
        data["relative" if side == "asked" else "requester"] = {
            "name": mask_name(other.name),
            "id_number": mask_id_number(other.id_number),
        }
    if side == "asked" and active:
        data["patient_id"] = binding.relative_patient_id
    return data


@route(
    bp,
    "/bindings",
    ["POST"],
    "Ask to bind a verified relative (pending until they consent)",
    examples=examples.BIND,
    body=obj(
        ["relative", "relationship", "permissions"],
        relative=obj(
            ["name", "id_number"],
            name={"type": "string", "minLength": 1, "maxLength": 64},
            id_number={"type": "string", "minLength": 15, "maxLength": 18},
        ),
        relationship={"type": "string", "enum": list(RELATIONSHIPS)},
        permissions={
            "type": "array",
            "minItems": 1,
            "maxItems": len(PERMISSIONS),
            "uniqueItems": True,
            "items": {"type": "string", "enum": list(PERMISSIONS)},
        },
    ),
    answers={201: loose(binding=BINDING)},
    errors={
        403: ("NOT_VERIFIED",),
        409: ("ALREADY_BOUND", "TOO_MANY_RELATIVES"),
        422: ("CANNOT_BIND_SELF", "RELATIVE_NOT_FOUND"),
        429: ("TOO_MANY_ATTEMPTS",),
    },
)
def create():
    b = g.body
    binding = service.request_binding(
        g.user, b["relative"]["name"], b["relative"]["id_number"], b["relationship"], b["permissions"]
    )
    return jsonify({"binding": binding_json(binding, "asked")}), 201


@route(
    bp,
    "/bindings",
    ["GET"],
    "Bindings this account asked for and bindings naming its own patient",
    answers={200: loose(asked={"type": "array", "items": BINDING}, received={"type": "array", "items": BINDING})},
)
def index():
    asked, received = service.bindings_of(g.user)
    return jsonify(
        {
            "asked": [binding_json(b, "asked") for b in asked],
            "received": [binding_json(b, "received") for b in received],
        }
    )


@route(
    bp,
    "/bindings/<binding_id>/consent",
    ["POST"],
    "The relative consents from their own verified account",
    body={"type": "object", "maxProperties": 0, "additionalProperties": False},
    answers={200: loose(binding=BINDING)},
    errors={403: ("NOT_VERIFIED",), 409: ("BINDING_STATE", "TOO_MANY_RELATIVES")},
)
def consent(binding_id):
    binding = service.consent(g.user, binding_id)
    return jsonify({"binding": binding_json(binding, "received")})


@route(
    bp,
    "/bindings/<binding_id>",
    ["PATCH"],
    "The relative (the patient) shares their sensitive items with the asker, or stops (R19)",
    body=obj(["share_sensitive"], share_sensitive=BOOL),
    answers={200: loose(binding=BINDING)},
    errors={403: ("PERMISSION_DENIED",), 409: ("BINDING_STATE",)},
)
def update(binding_id):
    binding = service.share_sensitive(g.user, binding_id, g.body["share_sensitive"])
    return jsonify({"binding": binding_json(binding, "received")})


@route(
    bp,
    "/bindings/<binding_id>",
    ["DELETE"],
    "Either side revokes the binding",
    answers={204: None},
    errors={409: ("BINDING_STATE",)},
)
def revoke(binding_id):
    service.revoke(g.user, binding_id)
    return "", 204
