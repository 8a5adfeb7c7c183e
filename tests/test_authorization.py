"""Every route that names a patient, contract, binding, bill, visit or payment, called
by a stranger (404: another family's ids reveal nothing) and by a relative whose
binding lacks the permission the route needs (403)."""

import base64
import datetime as dt

import pytest

from app import BLUEPRINTS  # noqa: F401  (registers every route)
from postpay.api import SPEC
from tests.conftest import bearer
from tests.pngs import png

#: endpoint -> (method, url, body, permission a relative needs; None: only the parties themselves)
ROUTES = {
    "contracts.check_eligibility": ("GET", "/api/v1/postpay/eligibility?patient_id={patient}", None, "view"),
    "contracts.list_contracts": ("GET", "/api/v1/postpay/contracts?patient_id={patient}", None, "view"),
    "contracts.sms_code": (
        "POST",
        "/api/v1/postpay/sms-code",
        {"patient_id": "{patient}", "phone": "13700000001"},
        "pay",
    ),
    "contracts.sign": (
        "POST",
        "/api/v1/postpay/contracts",
        {
            "patient_id": "{patient}",
            "commitment_version": "2026.1",
            "sms_code": "123456",
            "signature_png": base64.b64encode(png()).decode(),
        },
        "pay",
    ),
    "contracts.cancel": ("DELETE", "/api/v1/postpay/contracts/{contract}", None, "pay"),
    "family.consent": ("POST", "/api/v1/family/bindings/{binding}/consent", {}, None),
    "visits.show": ("GET", "/api/v1/visits/{visit}", None, "accompany"),
    "visits.stream": ("GET", "/api/v1/visits/{visit}/events", None, "accompany"),
    "credit.show": ("GET", "/api/v1/credit?patient_id={patient}", None, "view"),
    "billing.show": ("GET", "/api/v1/bills/{bill}", None, "view"),
    "billing.list_bills": ("GET", "/api/v1/bills?status=paid&patient_id={patient}", None, "view"),
    "payments.create": ("POST", "/api/v1/payments", {"bill_ids": ["{bill}"]}, "pay"),
    "payments.show": ("GET", "/api/v1/payments/{payment}", None, None),
    "payments.cancel": ("DELETE", "/api/v1/payments/{payment}", None, None),
    "billing.dispute": ("POST", "/api/v1/bills/{bill}/disputes", {"item_ids": ["{item}"], "reason": "未做"}, "pay"),
    "family.revoke": ("DELETE", "/api/v1/family/bindings/{binding}", None, None),
    "family.update": ("PATCH", "/api/v1/family/bindings/{binding}", {"share_sensitive": True}, None),
    "insurance.create": ("POST", "/api/v1/insurance-settlements", {"bill_ids": ["{bill}"]}, "pay"),
    "insurance.show": ("GET", "/api/v1/insurance-settlements/{settlement}", None, None),
    "insurance.confirm": ("POST", "/api/v1/insurance-settlements/{settlement}/confirm", {}, None),
    "insurance.cancel": ("DELETE", "/api/v1/insurance-settlements/{settlement}", None, None),
    "booking.create": (
        "POST",
        "/api/v1/appointments",
        {"patient_id": "{patient}", "hospital_id": "{hospital}", "his_slot_id": "Z-SLOT-2"},
        "book",
    ),
    "booking.show": ("GET", "/api/v1/appointments/{appointment}", None, "view"),
    "booking.cancel": ("DELETE", "/api/v1/appointments/{appointment}", None, "book"),
}
#: Routes with an id in the path that every logged-in account may read (no patient's data).
PUBLIC = {"booking.schedules"}


def test_every_route_naming_a_resource_is_in_this_table():
    naming = set()
    for endpoint, spec in SPEC.items():
        if endpoint.startswith("sandbox.") or spec["auth"] != "bearer":
            continue
        body_props = (spec["request"] or {}).get("properties", {})
        if "patient_id" in spec["query"] or "patient_id" in body_props or "bill_ids" in body_props:
            naming.add(endpoint)
    for rule in _rules():
        if rule.arguments and SPEC.get(rule.endpoint, {}).get("auth") == "bearer":
            naming.add(rule.endpoint)
    naming -= PUBLIC
    assert naming <= set(ROUTES), "add %s to ROUTES" % sorted(naming - set(ROUTES))


def _rules():
    from flask import Flask

    app = Flask("rules")
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    return list(app.url_map.iter_rules())


@pytest.fixture
def app(module_app):
    """One app for the module: its tests only get refusals (404, 403), so they share one world."""
    return module_app


@pytest.fixture(scope="module")
def built():
    return {}


@pytest.fixture
def world(built, client, person, bind, signed, his):
    """An elder's contract, visits, payment, settlement and appointment, a viewer's and a
    companion's bindings, and a stranger: built by the module's first test that asks, then read."""
    if not built:
        built.update(_world(client, person, bind, signed, his))
    return built


def _world(client, person, bind, signed, his):
    elder_token, elder = person("o-z-elder", birth="19480312")
    contract = signed(elder_token, elder["id"], "13700000009").get_json()["contract"]["id"]
    visit = his.visit("Z-1", elder)
    item = his.items("Z-1", ("Z-1-1", "lab", "血常规", 1, 2000))[0]["item_id"]
    his.event("Z-1", "visit_finished")
    paid = client.post(
        "/api/v1/payments",
        json={"bill_ids": [visit["bill_id"]]},
        headers=bearer(elder_token) | {"Idempotency-Key": "world-key-0001"},
    )
    assert paid.status_code == 201, paid.get_json()
    insured = his.visit("Z-2", elder)
    his.items("Z-2", ("Z-2-1", "exam", "CT", 1, 20000))
    his.event("Z-2", "visit_finished")
    settlement = client.post(
        "/api/v1/insurance-settlements", json={"bill_ids": [insured["bill_id"]]}, headers=bearer(elder_token)
    )
    assert settlement.status_code == 201, settlement.get_json()
    tomorrow = (dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(days=1)).replace(hour=9, minute=0)
    slots = [
        {"his_slot_id": no, "start": tomorrow.isoformat(), "end": (tomorrow + dt.timedelta(minutes=30)).isoformat()}
        | {"capacity": 5, "fee_fen": 1000}
        for no in ("Z-SLOT-1", "Z-SLOT-2")
    ]
    body = {"department": "心内科", "doctor": "王医生", "date": tomorrow.date().isoformat(), "slots": slots}
    assert his.open("/his/v1/schedules", json=body).status_code == 200
    hospitals = client.get("/api/v1/hospitals", headers=bearer(elder_token)).get_json()["hospitals"]
    hospital = next(h["id"] for h in hospitals if h["code"] == "NT01")
    appointment = client.post(
        "/api/v1/appointments",
        json={"patient_id": elder["id"], "hospital_id": hospital, "his_slot_id": "Z-SLOT-1"},
        headers=bearer(elder_token) | {"Idempotency-Key": "world-key-0002"},
    )
    assert appointment.status_code == 201, appointment.get_json()
    viewer_token, _ = person("o-z-viewer")
    companion_token, _ = person("o-z-companion")
    stranger_token, stranger = person("o-z-stranger")
    binding = bind(viewer_token, elder_token, elder, permissions=["view"])
    bind(companion_token, elder_token, elder, permissions=["accompany"])
    ids = {
        "patient": elder["id"],
        "contract": contract,
        "binding": binding,
        "visit": visit["visit_id"],
        "bill": visit["bill_id"],
        "item": item,
        "payment": paid.get_json()["payment"]["id"],
        "settlement": settlement.get_json()["settlement"]["id"],
        "hospital": hospital,
        "appointment": appointment.get_json()["appointment"]["id"],
    }
    return {
        "ids": ids,
        "stranger": stranger_token,
        "viewer": viewer_token,
        "companion": companion_token,
        "stranger_card": {"name": stranger["name"], "id_number": stranger["id_number_plain"]},
    }


def _fill(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_a_stranger_gets_404(client, world, endpoint):
    method, url, body, _ = ROUTES[endpoint]
    headers = bearer(world["stranger"]) | {"Idempotency-Key": "stranger-key-01"}
    resp = client.open(_fill(url, world["ids"]), method=method, json=_fill(body, world["ids"]), headers=headers)
    assert resp.status_code == 404, resp.get_json()
    assert resp.get_json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("endpoint", sorted(e for e, r in ROUTES.items() if r[3]))
def test_a_relative_without_the_permission_gets_403(client, world, endpoint):
    method, url, body, permission = ROUTES[endpoint]
    lacking = world["companion"] if permission == "view" else world["viewer"]
    headers = bearer(lacking) | {"Idempotency-Key": "lacking-key-01"}
    resp = client.open(_fill(url, world["ids"]), method=method, json=_fill(body, world["ids"]), headers=headers)
    assert resp.status_code == 403, resp.get_json()
    assert resp.get_json()["error"]["code"] == "PERMISSION_DENIED"


#: ids of the same shape that name nothing
MISSING = {
    "patient": "pt_doesnotexist00",
    "contract": "ct_doesnotexist00",
    "binding": "bd_doesnotexist00",
    "visit": "vs_doesnotexist00",
    "bill": "bl_doesnotexist00",
    "item": "it_doesnotexist00",
    "payment": "py_doesnotexist00",
    "settlement": "is_doesnotexist00",
    "hospital": "hp_doesnotexist00",
    "appointment": "ap_doesnotexist00",
}


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_a_strangers_id_and_an_id_that_does_not_exist_get_the_same_404(client, world, endpoint):
    method, url, body, _ = ROUTES[endpoint]
    answers = []
    for ids in (world["ids"], MISSING):
        headers = bearer(world["stranger"]) | {"Idempotency-Key": "same-404-key-01"}
        resp = client.open(_fill(url, ids), method=method, json=_fill(body, ids), headers=headers)
        answers.append((resp.status_code, resp.get_json()))
    assert answers[0][0] == 404 and answers[0] == answers[1], answers


def test_the_asking_relative_may_not_share_the_patients_sensitive_items_R19(client, world):
    url = "/api/v1/family/bindings/%s" % world["ids"]["binding"]
    resp = client.patch(url, json={"share_sensitive": True}, headers=bearer(world["viewer"]))
    assert resp.status_code == 403, resp.get_json()
    assert resp.get_json()["error"]["code"] == "PERMISSION_DENIED"


#: Kiosk routes naming a binding (or a bill, a payment): endpoint -> (method, url, body). The kiosk
#: session is a stranger's, opened with the stranger's own identity card (R8).
KIOSK_ROUTES = {
    "kiosk.consent": ("POST", "/kiosk/v1/bindings/{binding}/consent", {"session": "{session}"}),
    "kiosk.show_payment": ("GET", "/kiosk/v1/payments/{payment}?session={session}", None),
}


def test_every_kiosk_route_naming_a_resource_is_in_this_table():
    naming = {r.endpoint for r in _rules() if r.arguments and SPEC.get(r.endpoint, {}).get("auth") == "kiosk"}
    assert naming <= set(KIOSK_ROUTES), "add %s to KIOSK_ROUTES" % sorted(naming - set(KIOSK_ROUTES))


@pytest.mark.parametrize("endpoint", sorted(KIOSK_ROUTES))
def test_a_strangers_kiosk_session_gets_the_same_404_as_for_nothing(client, world, kiosk, endpoint):
    method, url, body = KIOSK_ROUTES[endpoint]
    opened = kiosk.open("/kiosk/v1/sessions", json={"id_card": world["stranger_card"]})
    assert opened.status_code == 201, opened.get_json()
    answers = []
    for ids in (world["ids"], MISSING):
        ids = dict(ids, session=opened.get_json()["session"])
        resp = kiosk.open(_fill(url, ids), method=method, json=_fill(body, ids))
        answers.append((resp.status_code, resp.get_json()))
    assert answers[0][0] == 404 and answers[0] == answers[1], answers


#: Routes that name no patient and act on the caller's own account only (issue 22: linking the
#: apps) -> (method, url, body); and the official account's sign-in, which needs no token but the
#: browser's own state. Without a token the first get 401; the sign-in refuses a state that is not
#: the browser's (a stranger's state or none).
OWN_ACCOUNT_ROUTES = {
    "accounts.link_sms": ("POST", "/api/v1/me/link/sms", {"phone": "13700000001"}),
    "accounts.link_confirm": ("POST", "/api/v1/me/link/confirm", {"phone": "13700000001", "code": "123456"}),
}
SIGN_IN_ROUTES = {
    "oauth.start": ("GET", "/oauth/wechat/start?next=/mp/", None),
    "oauth.callback": ("GET", "/oauth/wechat/callback?code=c&state={state}", None),
}


def test_every_account_and_sign_in_route_is_in_these_tables():
    linking = {e for e in SPEC if e.startswith("accounts.link_") or e.startswith("oauth.")}
    assert linking <= set(OWN_ACCOUNT_ROUTES) | set(SIGN_IN_ROUTES)


@pytest.mark.parametrize("endpoint", sorted(OWN_ACCOUNT_ROUTES))
def test_own_account_routes_need_a_token(client, endpoint):
    method, url, body = OWN_ACCOUNT_ROUTES[endpoint]
    resp = client.open(url, method=method, json=body)
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "UNAUTHORIZED"


def test_a_strangers_sign_in_state_signs_nobody_in(app, client):
    method, url, _ = SIGN_IN_ROUTES["oauth.start"]
    started = client.open(url, method=method)
    assert started.status_code == 302
    state = started.headers["Location"].split("state=")[1].split("&")[0].split("#")[0]
    method, url, _ = SIGN_IN_ROUTES["oauth.callback"]
    resp = app.test_client().open(url.format(state=state), method=method)  # another browser
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "BAD_STATE"


#: Open pages (sandbox only) that hold no one's data: the page reads everything through /api/v1
#: with the token the browser holds.
OPEN_PAGES = {"mp.page": "/mp/", "mp.script": "/mp/mp.js"}


def test_every_open_page_is_in_this_table():
    assert {e for e in SPEC if e.startswith("mp.")} <= set(OPEN_PAGES)


@pytest.mark.parametrize("endpoint", sorted(OPEN_PAGES))
def test_open_pages_are_the_same_for_everyone(client, login, endpoint):
    anonymous = client.get(OPEN_PAGES[endpoint])
    signed_in = client.get(OPEN_PAGES[endpoint], headers=bearer(login("o-page-viewer")))
    assert anonymous.status_code == 200 and anonymous.data == signed_in.data
