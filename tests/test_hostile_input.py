"""Hostile input (security issue "Safe by default", part 5: no 500 for any input): deep JSON,
NUL and lone surrogates, non-ASCII signature headers and extreme dates get a clean 4xx in the
error format on every route. NUL only breaks PostgreSQL: run this file against it too."""

import json
import time

import pytest

from app import BLUEPRINTS  # noqa: F401  (importing app registers every route)
from postpay.api import SPEC
from postpay.his.signing import sign
from tests.conftest import bearer

BODY_ROUTES = sorted(e for e, s in SPEC.items() if s["request"] is not None)
PATH_ROUTES = sorted(e for e in SPEC if e.split(".")[0] not in ("sandbox", "openapi"))
NOTIFY_PATHS = ["/wechat/pay/notify", "/wechat/pay/med-ins-notify"]
DEEP = "[" * 3000 + "]" * 3000


def _rule(app, endpoint):
    rule = next(app.url_map.iter_rules(endpoint))
    return rule, sorted(rule.methods - {"HEAD", "OPTIONS"})[0]


def _send(client, login, kiosk, his, endpoint, method, path, **kwargs):
    """``path`` as the route's callers send it: signed by the HIS or kiosk, or with a user's token."""
    auth = SPEC[endpoint]["auth"]
    if auth in ("kiosk", "his"):
        return {"kiosk": kiosk, "his": his}[auth].open(path, method=method, **kwargs)
    headers = (bearer(login("o-hostile")) if auth == "bearer" else {}) | kwargs.pop("headers", {})
    return client.open(path, method=method, headers=headers, **kwargs)


def _each(endpoints, check):
    """``check(endpoint)`` for every endpoint on one app (an app per route and case cost CI
    minutes); every route that fails is reported, not only the first."""
    failures = []
    for endpoint in endpoints:
        try:
            check(endpoint)
        except AssertionError as e:
            failures.append("%s: %s" % (endpoint, e))
    assert not failures, "\n".join(failures)


def _every_body_route(app, client, login, kiosk, his, raw, status, code):
    """``raw`` as the JSON body of every route that takes one: each answers ``status`` and ``code``."""

    def check(endpoint):
        rule, method = _rule(app, endpoint)
        path = rule.build({a: "X1" for a in rule.arguments})[1]
        resp = _send(client, login, kiosk, his, endpoint, method, path, data=raw, content_type="application/json")
        _error(resp, status, code)

    _each(BODY_ROUTES, check)


def _error(resp, status, code):
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    error = resp.get_json()["error"]
    assert set(error) <= {"code", "message", "field"} and error["code"] == code
    return error


# --- JSON nested too deep ----------------------------------------------------------------------


@pytest.mark.parametrize("depth", [33, 3000])
def test_json_nested_deeper_than_32_levels_is_malformed(app, client, login, kiosk, his, depth):
    body = '{"a": %s}' % ("[" * (depth - 1) + "]" * (depth - 1))
    _every_body_route(app, client, login, kiosk, his, body, 400, "MALFORMED_JSON")


def test_json_32_levels_deep_is_judged_by_its_schema_33_is_malformed(client, login):
    headers = bearer(login("o-hostile"))
    for depth, status, code in [(32, 422, "VALIDATION_ERROR"), (33, 400, "MALFORMED_JSON")]:
        body = {"bill_ids": json.loads("[" * (depth - 1) + "]" * (depth - 1))}
        _error(client.post("/api/v1/payments", json=body, headers=headers), status, code)


@pytest.mark.parametrize("path", NOTIFY_PATHS)
def test_notifications_nested_too_deep_are_malformed(client, path):
    _error(client.post(path, data=DEEP, content_type="application/json"), 400, "MALFORMED_JSON")


# --- NUL (and lone surrogates) -----------------------------------------------------------------


@pytest.mark.parametrize("where", ["value", "key", "nested", "surrogate"])
def test_nul_in_json_strings_and_keys_is_refused(app, client, login, kiosk, his, where):
    bad = {"value": {"x": "a\x00b"}, "key": {"a\x00b": 1}, "nested": {"x": [{"y": ["\x00"]}]}}.get(where)
    raw = json.dumps(bad) if bad else '{"x": "\\ud800"}'
    _every_body_route(app, client, login, kiosk, his, raw, 422, "INVALID_CHARACTERS")


def test_nul_in_path_values_is_refused(app, client, login, kiosk, his):
    def check(endpoint):
        rule, method = _rule(app, endpoint)
        path = rule.build({a: "X1" for a in rule.arguments})[1].replace("X1", "X%001", 1)
        resp = _send(client, login, kiosk, his, endpoint, method, path, json={})
        _error(resp, 422, "INVALID_CHARACTERS")

    with_values = [e for e in PATH_ROUTES if next(app.url_map.iter_rules(e)).arguments]
    assert len(with_values) > 10
    _each(with_values, check)


def test_nul_in_query_values_and_names_is_refused(app, client, login, kiosk, his):
    def check(endpoint):
        rule, method = _rule(app, endpoint)
        path = rule.build({a: "X1" for a in rule.arguments})[1]
        names = list(SPEC[endpoint]["query"]) or ["q"]
        for query in ["%s=a%%00b" % names[0], "x%00y=1"]:
            resp = _send(client, login, kiosk, his, endpoint, method, path + "?" + query, json={})
            _error(resp, 422, "INVALID_CHARACTERS")

    _each([e for e in PATH_ROUTES if not e.startswith("console.")], check)


@pytest.mark.parametrize("header", ["Idempotency-Key", "X-Hospital-Id", "Authorization", "User-Agent"])
def test_nul_in_header_values_is_refused(client, login, header):
    headers = bearer(login("o-hostile")) | {"Idempotency-Key": "key-0000001"}
    headers[header] = headers.get(header, "agent") + "\x00"
    _error(client.post("/api/v1/payments", json={"bill_ids": ["b1"]}, headers=headers), 422, "INVALID_CHARACTERS")


def test_nul_in_console_form_posts_is_refused(client):
    resp = client.post("/console/login", data={"username": "admin\x00", "password": "x", "csrf_token": "t"})
    _error(resp, 422, "INVALID_CHARACTERS")


# --- signature and timestamp headers -----------------------------------------------------------


NOW = str(int(time.time()))


@pytest.mark.parametrize(
    "header, value",
    [
        ("X-Signature", "é" * 64),  # compare_digest raised TypeError on non-ASCII
        ("X-Signature", "0" * 63 + "²"),
        ("X-Timestamp", "²"),  # passed str.isdigit(), then int() raised
        ("X-Timestamp", NOW.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))),  # Arabic-Indic digits
        ("X-Timestamp", "1" * 13),
        ("X-Nonce", "nonce-é-12345"),
        ("X-Nonce", "nonce with space"),
    ],
)
@pytest.mark.parametrize("caller", ["his", "kiosk"])
def test_odd_signature_headers_get_401(client, kiosk, his, caller, header, value):
    """Each odd value is signed (the timestamp and nonce are in the signed string), so only its
    form is wrong."""
    path = {"his": "/his/v1/visits", "kiosk": "/kiosk/v1/sessions"}[caller]
    signer = {"his": his.signed, "kiosk": kiosk}[caller]
    fields = {"X-Timestamp": NOW, "X-Nonce": "nonce-0001"} | {header: value}
    headers = signer.headers("POST", path, b"{}") | fields
    headers["X-Signature"] = sign(signer.secret, "POST", path, fields["X-Timestamp"], fields["X-Nonce"], b"{}")
    headers |= {header: value} if header == "X-Signature" else {}
    resp = client.post(path, data=b"{}", headers=headers, content_type="application/json")
    _error(resp, 401, "BAD_SIGNATURE")


@pytest.mark.parametrize("path", NOTIFY_PATHS)
def test_a_non_ascii_digit_wechat_pay_timestamp_gets_401(app, client, path):
    headers = {
        "Wechatpay-Serial": app.config["WECHATPAY_PUBLIC_KEY_ID"],
        "Wechatpay-Timestamp": "²",
        "Wechatpay-Nonce": "N" * 32,
        "Wechatpay-Signature": "AAAA",
    }
    resp = client.post(path, data=b"{}", headers=headers, content_type="application/json")
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "BAD_SIGNATURE"


# --- client-given times ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "at",
    [
        "0001-01-01T00:00:00+08:00",
        "9999-12-31T23:59:59-10:00",
        "1999-12-31T23:59:59+08:00",
        "2101-01-01T08:00:00+08:00",
    ],
)
def test_times_outside_2000_to_2100_are_refused(his, person, at):
    _, patient = person("o-hostile-time")
    body = {
        "his_visit_no": "T1",
        "patient": {"name": patient["name"], "id_number": patient["id_number_plain"]},
        "department": "心内科",
        "doctor": "王医生",
    }
    _error(his.open("/his/v1/visits", json=body | {"registered_at": at}), 422, "INVALID_TIME")
    his.visit("T1", patient)
    _error(his.open("/his/v1/visits/T1/events", json={"type": "called", "at": at}), 422, "INVALID_TIME")


@pytest.mark.parametrize("cursor", ["0001-01-01T00:00:00+08:00,x", "9999-12-31T23:59:59-10:00,x"])
def test_void_cursors_with_extreme_times_are_refused(his, cursor):
    _error(his.open("/his/v1/voids?cursor=" + cursor, method="GET"), 422, "BAD_CURSOR")
