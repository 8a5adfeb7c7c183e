"""WeChat Pay v3 request bodies checked as WeChat checks them: each body against its JSON Schema
in ``schemas/`` (written from the API reference page it names), then the rules a schema cannot
say (a ``time_expire`` in the future, unique sub-order numbers, the sub-merchants a provider
may name). ``refusal(name, body)`` gives WeChat's PARAM_ERROR answer, or None.

Lengths in the reference (``string(32)``) count UTF-8 bytes: the schemas say ``maxBytes``, a
keyword added here, where JSON Schema's ``maxLength`` would count characters."""

import datetime as dt
import json
import pathlib

from jsonschema import Draft202012Validator, ValidationError, validators
from referencing import Registry
from referencing.jsonschema import DRAFT202012

FOLDER = pathlib.Path(__file__).with_name("schemas")
URN = "urn:sandbox:wechatpay:"


def _max_bytes(validator, limit, value, schema):
    if isinstance(value, str) and len(value.encode("utf-8")) > limit:
        yield ValidationError("%r is longer than %d bytes" % (value[:40], limit))


Checker = validators.extend(Draft202012Validator, {"maxBytes": _max_bytes})


def _load():
    schemas = {p.stem: json.loads(p.read_text("utf-8")) for p in sorted(FOLDER.glob("*.json"))}
    registry = Registry().with_resources((URN + name, DRAFT202012.create_resource(s)) for name, s in schemas.items())
    return schemas, registry


SCHEMAS, REGISTRY = _load()


#: What each failed keyword means, in WeChat's words.
WHY = {
    "maxBytes": "超过最大长度",
    "minLength": "不能为空",
    "pattern": "格式不正确",
    "type": "类型错误",
    "enum": "取值不在可选范围内",
    "minimum": "须大于0",
    "minItems": "数量过少",
    "maxItems": "数量过多",
    "additionalProperties": "含有未定义的字段",
    "not": "不应填写",
    "const": "取值不符合规则",
}


def _pointer(path):
    return "".join("/%s" % p for p in path)


def problem(name, body, now=None):
    """The first violation of schema ``name``: ``(field, value, message)``, or None. ``now`` (an aware
    datetime) is the moment the ``x-future`` times must lie after; the published examples are
    checked with a moment before their own dates."""
    schema = SCHEMAS[name]
    errors = sorted(Checker(schema, registry=REGISTRY).iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        return _describe(errors[0])
    now = now or dt.datetime.now(dt.timezone.utc)
    for field in schema.get("x-future", []):
        value = body.get(field)
        if value is not None and dt.datetime.fromisoformat(value.replace("Z", "+00:00")) <= now:
            return "/" + field, value, "%s 须晚于当前时间" % field
    return None


def _describe(error):
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return _pointer(path + [missing]), None, "%s 为必填项" % _pointer(path + [missing])
    if error.validator == "additionalProperties":
        extra = error.message.split("'")[1] if "'" in error.message else ""
        return _pointer(path + [extra]), None, "%s 不是该接口的字段" % _pointer(path + [extra])
    if error.validator == "anyOf" and isinstance(error.instance, dict):
        return _pointer(path) or "/", None, "%s 缺少必填字段(%s)" % (_pointer(path) or "body", _names(error))
    value = error.instance if not isinstance(error.instance, (dict, list)) else None
    return _pointer(path), value, "%s %s" % (_pointer(path), WHY.get(error.validator, "不符合规则"))


def _names(error):
    return "/".join(r for s in error.validator_value for r in s.get("required", []))


def refusal(name, body, now=None):
    """WeChat's answer to a body that breaks its rules (a dict for a 400), or None."""
    if not isinstance(body, dict):
        return _param_error("/", None, "请求体须为JSON对象")
    found = problem(name, body, now) or _combine_problem(name, body)
    return _param_error(*found) if found else None


def _param_error(field, value, message):
    return {
        "code": "PARAM_ERROR",
        "message": "参数错误: %s" % message,
        "detail": {"field": field, "location": "body", "value": value},
    }


def _combine_problem(name, body):
    """Combine orders: sub out_trade_no unique; a provider's sub-orders carry its own mchid (whether
    each sub_mchid is a registered sub-merchant is ``pay.sub_mchid_known``'s, answered as WeChat does)."""
    if name != "combine_jsapi":
        return None
    seen = set()
    for n, sub in enumerate(body["sub_orders"]):
        field = "/sub_orders/%d" % n
        if sub["out_trade_no"] in seen or sub["out_trade_no"] == body["combine_out_trade_no"]:
            return field + "/out_trade_no", sub["out_trade_no"], "子单商户订单号重复"
        seen.add(sub["out_trade_no"])
        if "sub_mchid" in sub and sub["mchid"] != body["combine_mchid"]:
            return field + "/mchid", sub["mchid"], "服务商模式下子单商户号须为合单发起方商户号"
    return None


def expired(order_body, now=None):
    """True once an order's ``time_expire`` has passed: WeChat no longer lets the user pay it."""
    value = order_body.get("time_expire")
    if not value:
        return False
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) <= (now or dt.datetime.now(dt.timezone.utc))
