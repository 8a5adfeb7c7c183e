"""``GET /openapi.json``: built from the routes' declarations (``postpay.api.SPEC``
and the sandbox's ``SPEC``), walking Flask's URL map so no route is left out."""

import copy
import re

from flask import Blueprint, current_app, jsonify, request

from postpay.api import HTML, RELATIONSHIP, SPEC
from wechat.sandbox import SPEC as SANDBOX

bp = Blueprint("openapi", __name__)

#: A bill in BILL_NOT_PAYABLE's ``details``: why it cannot be paid now, until when, and who holds it.
HELD_BILL = {
    "type": "object",
    "required": ["id", "reason", "until"],
    "properties": {
        "id": {"type": "string"},
        "reason": {
            "type": "string",
            "enum": ["PENDING_PAYMENT", "INSURANCE_QUOTE", "PAID", "MICROPAY_UNRESOLVED", "NOT_DUE"],
        },
        "until": {"type": ["string", "null"]},
        "held_by": {
            "type": "object",
            "required": ["relationship", "name"],
            "properties": {"relationship": RELATIONSHIP, "name": {"type": ["string", "null"]}},
        },
    },
}
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Z0-9_]+$"},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "the request field at fault, e.g. bill_ids[0]"},
                "details": {"type": "object", "properties": {"bills": {"type": "array", "items": HELD_BILL}}},
            },
        }
    },
}
#: Error statuses and codes every JSON route may answer (bad JSON, an unknown id, a body too large,
#: a field that does not fit, a backend down...); a route declares its others with ``route(errors=...)``.
COMMON_CODES = {
    400: ("BAD_REQUEST", "MALFORMED_JSON"),
    404: ("NOT_FOUND",),
    405: ("METHOD_NOT_ALLOWED",),
    413: ("PAYLOAD_TOO_LARGE",),
    422: ("VALIDATION_ERROR", "INVALID_CHARACTERS"),
    500: ("INTERNAL_ERROR",),
    502: ("UPSTREAM_ERROR",),
    503: ("SERVICE_UNAVAILABLE",),
}
_SIGNED = {401: ("BAD_SIGNATURE", "STALE_REQUEST", "REPLAYED_REQUEST")}
#: What each way of authenticating answers a caller it does not know (postpay/his/signing.py for
#: the signed ones).
AUTH_CODES = {"bearer": {401: ("UNAUTHORIZED",)}, "kiosk": _SIGNED, "his": _SIGNED, "console": {401: ("UNAUTHORIZED",)}}


def error_codes(spec):
    """status -> the codes a route declared by ``spec`` may answer with it: the common ones,
    its authentication's and its own ``errors``."""
    codes = {status: list(names) for status, names in COMMON_CODES.items()}
    for status, names in [*AUTH_CODES.get(spec["auth"], {}).items(), *spec.get("errors", {}).items()]:
        known = codes.setdefault(status, [])
        known += [name for name in names if name not in known]
    return codes


def _error(status, codes, description="error"):
    """An error answer whose ``code`` is one of ``codes``."""
    enum = {"properties": {"error": {"properties": {"code": {"enum": codes}}}}}
    schema = {"allOf": [{"$ref": "#/components/schemas/Error"}, enum]}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def all_specs():
    return {
        **SPEC,
        **SANDBOX,
        "openapi.openapi_json": {
            "summary": "This document",
            "tags": ["meta"],
            "request": None,
            "query": {"scope": {"type": "string", "enum": ["api", "sandbox"]}},
            "auth": None,
            "responses": {200: {"type": "object", "additionalProperties": True}},
        },
    }


def _path(rule):
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)


def _json(schema, example):
    """A JSON media type, with its example when the route gives one."""
    return {"application/json": {"schema": schema} | ({} if example is None else {"example": example})}


def _operation(rule, spec):
    responses = {}
    examples = spec.get("examples", {})
    for status, schema in spec["responses"].items():
        entry = {"description": "HTTP %s" % status}
        if isinstance(schema, str):
            entry["content"] = {schema: {"schema": {"type": "string"}}}
        elif schema is not None:
            entry["content"] = _json(schema, examples.get(status))
        responses[str(status)] = entry
    page = HTML in spec["responses"].values()
    for status, codes in sorted(error_codes(spec).items()):
        declared = spec["responses"].get(status)
        entry = _error(status, codes, declared.get("description", "error") if isinstance(declared, dict) else "error")
        if page:  # a page's own errors are pages too (bad form, CSRF)
            entry["content"][HTML] = {"schema": {"type": "string"}}
        responses[str(status)] = entry
    op = {"operationId": rule.endpoint, "summary": spec["summary"], "tags": spec["tags"], "responses": responses}
    params = [{"name": a, "in": "path", "required": True, "schema": {"type": "string"}} for a in rule.arguments]
    params += [{"name": n, "in": "query", "required": False, "schema": s} for n, s in spec["query"].items()]
    params += [{"name": n, "in": "header", **h} for n, h in spec.get("headers", {}).items()]
    if params:
        op["parameters"] = params
    if spec["request"] is not None:
        op["requestBody"] = {"required": True, "content": _json(spec["request"], examples.get("request"))}
    if spec["auth"]:
        op["security"] = [{spec["auth"]: []}]
    return op


#: Fields that carry a moment, by name: answered by ``postpay.api.iso``, read by ``parse_time``.
_MOMENT = re.compile(r"(_at|^until|_until|_time)$")


def _date_times(node):
    """Mark the moments (``paid_at``, ``until``...) of every schema under ``node`` as date-time."""
    if isinstance(node, dict):
        properties = node.get("properties") or {}
        for name, schema in properties.items():
            kinds = schema.get("type") if isinstance(schema, dict) else None
            if _MOMENT.search(name) and kinds in ("string", ["string", "null"]) and "format" not in schema:
                properties[name] = {**schema, "format": "date-time"}  # a new dict: STR and the like are shared
        for value in node.values():
            _date_times(value)
    elif isinstance(node, list):
        for value in node:
            _date_times(value)


def _nullable_enums(node):
    """``{"type": ["string", "null"], "enum": [..., None]}`` as ``anyOf`` an enum and null: the same
    values, in the form client generators read as one optional enum (openapi-python-client makes
    three identical enum classes of the first form)."""
    if isinstance(node, dict):
        kinds = node.get("type")
        if isinstance(kinds, list) and "null" in kinds and None in node.get("enum", ()):
            rest = [k for k in kinds if k != "null"]
            values = [v for v in node.pop("enum") if v is not None]
            node.pop("type")
            node["anyOf"] = [{"type": rest[0] if len(rest) == 1 else rest, "enum": values}, {"type": "null"}]
        for value in node.values():
            _nullable_enums(value)
    elif isinstance(node, list):
        for value in node:
            _nullable_enums(value)


def build(app):
    """The OpenAPI 3.1 document for every route ``app`` serves (except static files)."""
    specs = all_specs()
    paths = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint not in specs:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            op = _operation(rule, specs[rule.endpoint])
            if len(rule.methods - {"HEAD", "OPTIONS"}) > 1:  # one view for GET and POST: an id for each
                op["operationId"] = "%s_%s" % (rule.endpoint, method.lower())
            paths.setdefault(_path(rule), {})[method.lower()] = op
    paths = copy.deepcopy(paths)  # the routes' own schemas stay as declared
    _date_times(paths)
    _nullable_enums(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "先诊疗后付费 family-pay hub", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "kiosk": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Signature",
                    "description": "X-Kiosk-Id, X-Timestamp (unix seconds, [0-9]{1,12}), X-Nonce "
                    "([A-Za-z0-9_-]{8,64}, once) and X-Signature = hex HMAC-SHA256 ([0-9a-f]{64}) with the device "
                    "secret over METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nSHA256_HEX(BODY), where PATH ends in ?QUERY, "
                    "the query string exactly as sent, when there is one; anything else gets 401",
                },
                "console": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "the console's signed session cookie, from POST /console/login",
                },
                "his": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Signature",
                    "description": "X-Hospital-Id, X-Timestamp, X-Nonce and X-Signature, as for kiosks, with the "
                    "hospital's HIS secret: lowercase hex HMAC-SHA256 over METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE"
                    "\\nSHA256_HEX(BODY), the raw query string as sent (PATH alone when there is none)",
                },
            },
        },
    }


#: ``?scope=``: the service's own routes, or the sandbox's (Swagger UI at /docs shows each on its own:
#: it stops drawing a document this size part-way).
SCOPES = {"api": lambda path: not path.startswith("/sandbox/"), "sandbox": lambda path: path.startswith("/sandbox/")}


@bp.get("/openapi.json")
def openapi_json():
    doc = current_app.extensions.get("openapi_doc")
    if doc is None:
        doc = current_app.extensions["openapi_doc"] = build(current_app)
    keep = SCOPES.get(request.args.get("scope", ""))
    if keep is not None:
        doc = dict(doc, paths={path: item for path, item in doc["paths"].items() if keep(path)})
    return jsonify(doc)
