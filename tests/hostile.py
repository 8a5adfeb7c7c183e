"""Hostile requests for the fuzzing (tests/test_fuzz.py; security issue "Safe by default", part 5):
for a route of the URL map, a request that fits the route's schema with one part spoiled
with what broke routes before: NUL and lone surrogates in JSON strings and keys, JSON nested
thousands of levels deep, non-ASCII and non-digit signature and timestamp headers, extreme
dates, NUL in path values and query names or values. The request is still signed (HIS, kiosk),
authorised (bearer) or in a console session, so it reaches the route."""

import json
import secrets
import time
from urllib.parse import quote, unquote, urlencode

from hypothesis import strategies as st

from postpay.api import SPEC
from postpay.his.signing import sign

SIGNED = {
    "his": ("X-Hospital-Id", "NT01", "his-secret-nt01"),
    "kiosk": ("X-Kiosk-Id", "KIOSK-FUZZ-01", "kiosk-secret-fuzz"),
}
DATES = ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-14:00", "1900-01-01T00:00:00Z", "2101-01-01T00:00:00+08:00"]
#: Values that passed a loose check and broke later: superscript and Arabic-Indic digits pass
#: str.isdigit(); non-ASCII broke hmac.compare_digest.
ODD = ["²", "١٧٠٠٠٠٠٠٠٠", "0" * 63 + "é", "é" * 64, "1" * 40, "-1", " ", ""]
LATIN1 = st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"), max_size=70)
WITH_NUL = st.text(max_size=12).map(lambda s: s[: len(s) // 2] + "\x00" + s[len(s) // 2 :])
#: Text for a URL or a header (no surrogates: they cannot be sent there).
WIRE_TEXT = st.one_of(WITH_NUL, st.sampled_from(DATES + ODD), LATIN1)
JSON_TEXT = st.one_of(WIRE_TEXT, st.sampled_from(["\ud800", "a\udfffb", "\x00"]))
DEPTH = st.integers(min_value=33, max_value=3000)
#: Headers the routes of each scheme read (signatures, timestamps, nonces, keys, ids), and any route.
HEADERS = {
    "his": ["X-Signature", "X-Timestamp", "X-Nonce", "X-Hospital-Id"],
    "kiosk": ["X-Signature", "X-Timestamp", "X-Nonce", "X-Kiosk-Id"],
    "bearer": ["Authorization", "Idempotency-Key"],
    "notify": ["Wechatpay-Timestamp", "Wechatpay-Signature", "Wechatpay-Nonce", "Wechatpay-Serial"],
    "any": ["X-Request-Id", "User-Agent", "Cookie"],
}
NOTIFY = ("payments.wechat_notify", "payments.medins_notify")
DATE = "2026-06-01T09:00:00+08:00"


def filled(schema):
    """A small instance of a request schema (required fields only), for the hostile part to spoil."""
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), "string") if isinstance(kind, list) else kind
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        return {k: filled(schema["properties"].get(k, {})) for k in schema.get("required", [])}
    if kind == "array":
        return [filled(schema.get("items", {})) for _ in range(max(schema.get("minItems", 0), 1))]
    if kind in ("integer", "number"):
        return max(schema.get("minimum", 1), 1)
    if kind == "boolean":
        return True
    low, high = schema.get("minLength", 0), schema.get("maxLength", 1000)
    return DATE if low >= 10 and high >= len(DATE) else "X1".ljust(low, "1")[:high]


def _leaves(value, path=()):
    """Every place in a JSON document a string can go: (path, is_key)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield path + (k,), True
            yield from _leaves(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, path + (i,))
    else:
        yield path, False


def _spoil(doc, where, text):
    *parents, last = where[0]
    if not where[0]:  # the document itself is a scalar
        return text
    target = doc
    for p in parents:
        target = target[p]
    if where[1]:
        target[text] = target.pop(last)
    else:
        target[last] = text
    return doc


def _scheme(rule):
    return "notify" if rule.endpoint in NOTIFY else SPEC.get(rule.endpoint, {}).get("auth")


def parts(rule, method):
    """The parts of a request to ``rule`` that can be spoiled."""
    body = method != "GET"
    dated = DATE in json.dumps(filled(SPEC.get(rule.endpoint, {}).get("request") or {}))
    return ["path"] * bool(rule.arguments) + ["query", "header"] + ["deep", "json"] * body + ["date"] * dated


@st.composite
def hostile(draw, rule, method, part):
    """``(path, query string, headers, raw body)`` of a request to ``rule`` with ``part`` spoiled."""
    spec = SPEC.get(rule.endpoint, {})
    values = {a: "X1" for a in rule.arguments}
    query, headers, raw = {}, {}, None
    doc = (filled(spec["request"]) if spec.get("request") else {}) or {"x": "X1"}
    if part == "path":
        values[draw(st.sampled_from(sorted(values)))] = draw(WIRE_TEXT.filter(lambda s: s not in ("", ".", "..")))
    elif part == "query":
        name = draw(st.sampled_from(sorted(spec.get("query") or {}) + ["x"]))
        query = {draw(WITH_NUL) if draw(st.booleans()) else name: draw(WIRE_TEXT)}
    elif part == "header":
        headers[draw(st.sampled_from(HEADERS.get(_scheme(rule), []) + HEADERS["any"]))] = draw(WIRE_TEXT)
    elif part == "deep":
        n = draw(DEPTH)
        raw = ('{"deep": %s}' if draw(st.booleans()) else "%s") % ("[" * n + "]" * n)
    elif part == "json":
        doc = _spoil(doc, draw(st.sampled_from(list(_leaves(doc)))), draw(JSON_TEXT))
    elif part == "date":
        raw = json.dumps(doc).replace(DATE, draw(st.sampled_from(DATES)))
    # Placeholders, then each value percent-encoded (werkzeug's build would refuse some of them).
    path = rule.build({a: "@%s@" % a for a in values}, append_unknown=False)[1]
    for name, value in values.items():
        path = path.replace("@%s@" % name, quote(value, safe=""))
    raw = raw if raw is not None else json.dumps(doc) if method != "GET" else ""
    return path, urlencode(query), headers, raw.encode()


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("sandbox."):
            continue  # plays WeChat, Pay, medical insurance and SMS in their own formats
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def credentials(callers, rule, method, path, query, headers, raw):
    """The headers that get the request past authentication, with the hostile ones kept: a hostile
    timestamp or nonce is signed as it is (only its form is wrong), a hostile signature replaces
    the right one."""
    auth = _scheme(rule)
    if auth in SIGNED:
        id_header, caller, secret = SIGNED[auth]
        ts, nonce = headers.get("X-Timestamp", str(int(time.time()))), headers.get("X-Nonce", secrets.token_hex(8))
        signed_path = unquote(path, errors="replace") + ("?" + query if query else "")  # as request.path has it
        signed = {id_header: caller, "X-Timestamp": ts, "X-Nonce": nonce}
        signed["X-Signature"] = sign(secret, method, signed_path, ts, nonce, raw)
        return signed | headers
    if auth == "notify":  # as WeChat Pay's would be but for the signature: the checks before it run
        return {
            "Wechatpay-Serial": callers["wechatpay_serial"],
            "Wechatpay-Timestamp": str(int(time.time())),
            "Wechatpay-Nonce": "N" * 32,
            "Wechatpay-Signature": "AAAA",
        } | headers
    if auth == "bearer":
        return {"Authorization": "Bearer " + callers["token"]} | headers
    if auth == "console" or rule.endpoint.startswith("console."):
        cookie, csrf = callers["console"]
        return {"Cookie": "session=" + cookie, "X-CSRFToken": csrf} | headers
    return headers


def send(client, callers, rule, method, request):
    """Send one ``hostile`` request with the credentials it needs; returns ``(what was sent, answer)``."""
    path, query, headers, raw = request
    sent = credentials(callers, rule, method, path, query, headers, raw)
    url = path + ("?" + query if query else "")
    if rule.endpoint.startswith("console.") and method == "POST":  # a form, as a browser posts it
        return url, client.open(url, method=method, headers=sent, data={"field": raw.decode()[:200]})
    return url, client.open(url, method=method, headers=sent, data=raw, content_type="application/json")
