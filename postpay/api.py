"""How the JSON APIs are declared: one decorator registers a route, its
authentication, its request schema (validated on the way in) and its answers
(documented in ``/openapi.json`` and checked by the tests)."""

import datetime as dt
import functools

import jsonschema
import orjson
from flask import g, request
from flask.json.provider import DefaultJSONProvider
from flask_sqlalchemy.session import Session
from sqlalchemy import event

from postpay import inputs, pushes
from postpay.clock import SHANGHAI
from postpay.errors import Invalid
from postpay.extensions import db

#: endpoint -> {"summary", "tags", "request", "responses", "query", "auth"}
SPEC = {}
#: auth scheme -> (attribute of ``g`` that holds the caller, function returning the caller or raising)
AUTHENTICATORS = {}


def authenticator(scheme, attribute):
    """Register how routes declared with ``auth=scheme`` find their caller."""

    def deco(fn):
        AUTHENTICATORS[scheme] = (attribute, fn)
        return fn

    return deco


STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
NULLABLE_STR = {"type": ["string", "null"]}
#: What a patient is to the account that asks, the same word in every answer: its own (``self``) or a
#: relative by the binding's relationship (postpay.family.models.RELATIONSHIPS).
RELATIONSHIP = {"type": "string", "enum": ["self", "parent", "spouse", "child", "other"]}
#: An answer that is a page, not JSON.
HTML = "text/html"


def obj(required=(), **props):
    """A closed JSON object schema: ``obj(["a"], a=STR, b=INT)``."""
    return {"type": "object", "required": list(required), "properties": props, "additionalProperties": False}


def loose(**props):
    """An answer object: documented fields, more allowed later."""
    return {"type": "object", "required": list(props), "properties": props}


def iso(moment):
    """A timestamp as API.md wants it: ISO 8601 in +08:00."""
    return None if moment is None else moment.astimezone(SHANGHAI).isoformat()


#: The years a client-given time may name: anything else is a typo or an attack (year 1 or 9999
#: overflows on the way to UTC).
YEARS = (2000, 2100)


def parse_time(text):
    """A client-given ISO 8601 time with an offset, in UTC: every route reads times through this.

    Raises Invalid (INVALID_TIME) without an offset or outside the years 2000-2100.
    """
    try:
        moment = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise Invalid("时间格式应为ISO 8601: %s" % str(text)[:40], code="INVALID_TIME") from None
    if moment.tzinfo is None:
        raise Invalid("时间须带时区偏移，如 +08:00", code="INVALID_TIME")
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise Invalid("时间应在%d年至%d年之间" % YEARS, code="INVALID_TIME")
    return moment.astimezone(dt.timezone.utc)


def idempotency_key(required=True):
    """The ``Idempotency-Key`` request header, for ``route(headers=...)``."""
    return {
        "Idempotency-Key": {
            "required": required,
            "description": "the client's key for this request: a retry with the same key and body gets the "
            "first answer, never a second payment; the same key with another body gets 422 IDEMPOTENCY_KEY_REUSED",
            "schema": {"type": "string", "minLength": 8, "maxLength": 128},
        }
    }


def route(
    bp,
    rule,
    methods,
    summary,
    body=None,
    answers=None,
    query=None,
    auth="bearer",
    read_only=False,
    headers=None,
    examples=None,
    errors=None,
):
    """Declare a route. ``answers`` maps status -> JSON schema (None: no body; HTML: a page);
    ``headers``: request headers it reads, name -> {"required", "description", "schema"};
    ``examples``: for the document, ``"request"`` -> a body and status -> an answer (see
    postpay/examples.py), each valid against its schema;
    ``errors``: the error statuses it may answer beyond every route's own (``postpay.openapi``'s
    COMMON_CODES), status -> its codes, e.g. ``{409: ("BILL_NOT_PAYABLE",)}``; documented in
    ``/openapi.json`` as the enum of ``code``, and the tests fail on an answer not declared.

    ``read_only``: a route that only reads runs its statements without a transaction (no
    BEGIN and COMMIT round trips on the busiest reads); any attempt to write raises.
    """

    def deco(fn):
        endpoint = "%s.%s" % (bp.name, fn.__name__)
        SPEC[endpoint] = {
            "summary": summary,
            "tags": [bp.name],
            "request": body,
            "responses": answers or {200: None},
            "query": query or {},
            "auth": auth,
            "headers": headers or {},
            "examples": examples or {},
            "errors": errors or {},
        }

        @functools.wraps(fn)
        def view(*args, **kwargs):
            if read_only:
                db.session.info["read_only"] = True
                db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            if auth is not None:
                attribute, find_caller = AUTHENTICATORS[auth]
                setattr(g, attribute, find_caller())
            if body is not None:
                g.body = parse_body(body)
            return committed(fn, *args, **kwargs)

        bp.add_url_rule(rule, fn.__name__, view, methods=methods)
        return view

    return deco


def committed(fn, *args, **kwargs):
    """Run a view: one commit after it (the services only flush), the pushes it queued sent
    after that; on any error a rollback and no pushes (DESIGN 4, 8)."""
    try:
        rv = fn(*args, **kwargs)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        pushes.discard()
        raise
    pushes.flush()
    return rv


def parse_body(schema):
    """The request's JSON object, validated against ``schema``.

    Raises BadRequest (MALFORMED_JSON) when the body is not JSON or nests too deep,
    Invalid (INVALID_CHARACTERS) for NUL in it, (VALIDATION_ERROR) when it does not fit
    the schema.
    """
    data = inputs.load_json(request.get_data())
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if error is not None:
        field, what = describe(error)
        raise Invalid("%s%s" % (field + " " if field else "请求体", what), field=field)
    return data


#: JSON types in Chinese.
TYPES = {
    "string": "字符串",
    "integer": "整数",
    "number": "数字",
    "boolean": "布尔值",
    "array": "数组",
    "object": "对象",
    "null": "null",
}


def _path(parts):
    """``["id_card", "name"]`` -> ``id_card.name``; ``["bill_ids", 0]`` -> ``bill_ids[0]``."""
    out = ""
    for part in parts:
        out += "[%d]" % part if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def describe(error):
    """A jsonschema error as ``(field, what is wrong)``, in Chinese; never jsonschema's English."""
    at, value, v = list(error.absolute_path), error.validator_value, error.validator
    if v == "required":
        missing = [name for name in value if isinstance(error.instance, dict) and name not in error.instance]
        return _path(at + missing[:1]), "为必填项"
    if v == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        unknown = sorted(k for k in error.instance if k not in known) if isinstance(error.instance, dict) else []
        return _path(at + unknown[:1]), "不是可用的字段"
    if v == "type":
        names = [TYPES.get(t, t) for t in (value if isinstance(value, list) else [value]) if t != "null"]
        return _path(at), "应为%s" % "或".join(names)
    what = {
        "enum": lambda: "应为以下之一：%s" % "、".join(str(x) for x in value),
        "const": lambda: "应为 %s" % value,
        "maxLength": lambda: "最多%d个字符" % value,
        "minLength": lambda: "不能为空" if value == 1 else "至少%d个字符" % value,
        "pattern": lambda: "格式不正确",
        "format": lambda: "格式不正确",
        "minimum": lambda: "应不小于%s" % value,
        "maximum": lambda: "应不大于%s" % value,
        "exclusiveMinimum": lambda: "应大于%s" % value,
        "maxItems": lambda: "最多%d项" % value,
        "minItems": lambda: "至少%d项" % value,
        "uniqueItems": lambda: "不能有重复项",
        "maxProperties": lambda: "字段过多",
        "oneOf": lambda: "应提供且只提供以下之一：%s" % "、".join(r for sub in value for r in sub.get("required", [])),
    }.get(v, lambda: "不符合要求")
    return _path(at), what()


@event.listens_for(Session, "before_flush")
def _refuse_writes_on_read_only_routes(session, flush_context, instances):
    if session.info.get("read_only"):
        raise RuntimeError("a read-only route tried to write")


class JSON(DefaultJSONProvider):
    """Flask's JSON through orjson: the answers of the busiest reads (the outstanding list is
    ~25 KB) encode in a tenth of the time. Same output rules as Flask's own: keys sorted,
    UTF-8 (Chinese stays readable), dates and other types through Flask's ``default``."""

    OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME

    def dumps(self, obj, **kwargs):
        if kwargs:  # a caller asking for indent, separators and the like gets the standard encoder
            return super().dumps(obj, **kwargs)
        return orjson.dumps(obj, default=self.default, option=self.OPTIONS).decode()

    def response(self, *args, **kwargs):
        body = orjson.dumps(self._prepare_response_obj(args, kwargs), default=self.default, option=self.OPTIONS)
        return self._app.response_class(body + b"\n", mimetype=self.mimetype)
