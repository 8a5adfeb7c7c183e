"""Bad input on every JSON route of the API: always a 4xx in the error format, never a 500."""

import re

import pytest

from app import BLUEPRINTS  # noqa: F401  (importing app registers every route)
from postpay.api import SPEC
from tests.conftest import bearer

BODY_ROUTES = sorted(e for e, s in SPEC.items() if s["request"] is not None)
AUTH_ROUTES = sorted(e for e, s in SPEC.items() if s["auth"])


@pytest.fixture
def app(module_app):
    """One app for the module (an app per case was most of its time): every case here is a
    request that must be refused, so none leaves anything behind for the next."""
    return module_app


def _url(app, endpoint):
    rule = next(app.url_map.iter_rules(endpoint))
    method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
    path = rule.build({a: "xx_nonexistent" for a in rule.arguments})[1]
    return method, path


def _required_strings(schema):
    return {k: "ok" for k in schema.get("required", [])}


BAD_BODIES = [
    ("malformed", {"data": '{"code": ', "content_type": "application/json"}, 400),
    ("not an object", {"json": ["a"]}, 422),
    ("null", {"data": "null", "content_type": "application/json"}, 422),
    ("missing fields", {"json": {}}, 422),
    ("wrong types", "wrong-types", 422),
    ("unknown field", "unknown-field", 422),
    ("oversize", {"data": '{"code": "' + "x" * 600_000 + '"}', "content_type": "application/json"}, 413),
    ("too long", "too-long", 422),
]


@pytest.mark.parametrize("endpoint", BODY_ROUTES)
@pytest.mark.parametrize("case, kwargs, status", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_bodies_get_a_clean_4xx(app, client, login, kiosk, his, endpoint, case, kwargs, status):
    schema = SPEC[endpoint]["request"]
    if case == "missing fields" and not schema.get("required"):
        pytest.skip("nothing is required")
    if kwargs == "wrong-types":
        kwargs = {"json": {k: 12345 for k in schema.get("required", [])} or {"x": 1}}
    elif kwargs == "unknown-field":
        kwargs = {"json": {**_required_strings(schema), "surprise": True}}
    elif kwargs == "too-long":
        kwargs = {"json": {k: "x" * 5000 for k in schema.get("required", [])} or {"x": "y"}}
    method, path = _url(app, endpoint)
    if SPEC[endpoint]["auth"] in ("kiosk", "his"):
        resp = {"kiosk": kiosk, "his": his}[SPEC[endpoint]["auth"]].open(path, method=method, **kwargs)
    else:
        headers = bearer(login("o-bad")) if SPEC[endpoint]["auth"] else {}
        resp = client.open(path, method=method, headers=headers, **kwargs)
    assert resp.status_code == status, resp.get_json()
    error = resp.get_json()["error"]
    assert set(error) <= {"code", "message", "field"}
    named = case in ("missing fields", "wrong types", "unknown field", "too long")
    if named and error["code"] == "VALIDATION_ERROR" and not error["message"].startswith("请求体"):
        # The field at fault, named in the body and in a message in Chinese (no jsonschema English).
        assert error.get("field") and error["message"].startswith(error["field"] + " "), error
        assert not re.search(r"is not|is a required|[Aa]dditional|too long|does not match", error["message"]), error


@pytest.mark.parametrize("endpoint", AUTH_ROUTES)
def test_every_authenticated_route_refuses_without_a_token(app, client, endpoint):
    method, path = _url(app, endpoint)
    resp = client.open(path, method=method, json={})
    if SPEC[endpoint]["auth"] == "console":  # staff pages and forms: to the login form (API.md)
        assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
        return
    expected = {"bearer": "UNAUTHORIZED", "kiosk": "BAD_SIGNATURE", "his": "BAD_SIGNATURE"}[SPEC[endpoint]["auth"]]
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == expected


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({}, "bill_ids", "bill_ids 为必填项"),
        ({"bill_ids": "abc"}, "bill_ids", "bill_ids 应为数组"),
        ({"bill_ids": [1]}, "bill_ids[0]", "bill_ids[0] 应为字符串"),
        ({"bill_ids": []}, "bill_ids", "bill_ids 至少1项"),
        ({"bill_ids": ["b"], "coupon": "x"}, "coupon", "coupon 不是可用的字段"),
    ],
)
def test_validation_errors_name_the_field_in_chinese(client, login, body, field, message):
    headers = bearer(login("o-fields")) | {"Idempotency-Key": "fields-key-0001"}
    error = client.post("/api/v1/payments", json=body, headers=headers).get_json()["error"]
    assert error == {"code": "VALIDATION_ERROR", "message": message, "field": field}
