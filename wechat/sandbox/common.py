"""The sandbox's blueprint and the helpers its parts share (the package imports the parts;
the parts import this module, never the package, so nothing imports in a circle)."""

import datetime as dt
import json
import secrets

from flask import Blueprint, current_app, jsonify, request

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox")
#: endpoint -> its OpenAPI description, for ``/openapi.json``.
SPEC = {}

STR = {"type": "string"}
#: A body or answer in the real service's own wire format, documented by that service (docs/api.md
#: names where); the sandbox checks it against its schemas in wechat/sandbox/schemas/.
OBJ = {"type": "object", "additionalProperties": True, "description": "the real service's own wire format"}
#: China Standard Time, in which WeChat Pay and the platform write their times.
CST = dt.timezone(dt.timedelta(hours=8))


def redis():
    return current_app.extensions["redis"]


def route(rule, methods, summary, body=None, answer=None, query=None, status=200):
    """Register a sandbox route and its OpenAPI description."""

    def deco(fn):
        bp.add_url_rule(rule, fn.__name__, fn, methods=methods)
        SPEC["sandbox." + fn.__name__] = {
            "summary": summary,
            "tags": ["sandbox"],
            "request": body,
            "responses": {status: answer or OBJ},
            "query": query or {},
            "auth": None,
        }
        return fn

    return deco


def error(status, code, message):
    resp = jsonify({"error": {"code": code, "message": message}})
    resp.status_code = status
    return resp


@bp.errorhandler(RecursionError)
def too_deep(_):
    """A body nested too deep for the JSON parser (``get_json(silent=True)`` only swallows
    ValueError) is refused as each real service refuses a body it cannot parse: WeChat's server
    API with errcode 47001 (HTTP 200), WeChat Pay with 400 PARAM_ERROR, the others with 400."""
    if request.path.startswith(bp.url_prefix + "/wechat/api/"):
        return jsonify({"errcode": 47001, "errmsg": "data format error"})
    if request.path.startswith(bp.url_prefix + "/wechatpay/"):
        resp = jsonify({"code": "PARAM_ERROR", "message": "请求体不是有效的JSON"})
        resp.status_code = 400
        return resp
    return error(400, "MALFORMED_JSON", "请求体不是有效的JSON")


def body_fields(*required, optional=()):
    """The JSON body's string fields, or an error response for a missing or non-string one."""
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        return None, error(400, "MALFORMED_JSON", "请求体不是JSON对象")
    for name in required + tuple(optional):
        value = body.get(name)
        if (name in required and not value) or (value is not None and not isinstance(value, str)):
            return None, error(422, "VALIDATION_ERROR", "字段 %s 应为非空字符串" % name)
    return body, None


def new_code():
    return secrets.token_urlsafe(18)


def put(key, value, ttl):
    redis().set(key, json.dumps(value, ensure_ascii=False), ex=ttl)


def take(key):
    """Read and delete a single-use value; None when unknown or used."""
    raw = redis().getdel(key)
    return None if raw is None else json.loads(raw)


def append(key, value, keep=500):
    r = redis()
    r.rpush(key, json.dumps(value, ensure_ascii=False))
    r.ltrim(key, -keep, -1)


def read_list(key):
    return [json.loads(x) for x in redis().lrange(key, 0, -1)]
