"""The kiosk channel (R6, R8, R10): signed device requests, the e-voucher code as the card."""

import base64
import time

import pytest

from postpay.contracts.models import Channel, Contract
from postpay.extensions import db
from postpay.kiosk.service import add_device
from tests.conftest import SignedCaller, last_sms_code, make_id_number
from tests.pngs import png

PHONE = "13655550001"


def ecode(client, **person):
    person = {
        "name": "陈阿婆",
        "id_number": make_id_number(birth="19460203"),
        "insured_region": "320685",
        "insurance_type": "resident",
        "insured_status": "normal",
    } | person
    return client.post("/sandbox/medins/ecodes", json=person).get_json()["ecode"], person


def test_sign_at_the_kiosk_with_the_e_voucher_as_the_card_R8_R6(app, client, kiosk):
    code, person = ecode(client)
    opened = kiosk.open("/kiosk/v1/sessions", json={"ecode": code})
    assert opened.status_code == 201, opened.get_json()
    session = opened.get_json()
    assert session["patient"]["id_number"] == person["id_number"][:6] + "********" + person["id_number"][-4:]
    assert [r["code"] for r in session["eligibility"]["reasons"]] == ["NO_CONTRACT"]
    assert (
        kiosk.open("/kiosk/v1/postpay/sms-code", json={"session": session["session"], "phone": PHONE}).status_code
        == 204
    )
    signed = kiosk.open(
        "/kiosk/v1/postpay/contracts",
        json={
            "session": session["session"],
            "commitment_version": session["commitment"]["version"],
            "sms_code": last_sms_code(client, PHONE),
            "signature_png": base64.b64encode(png()).decode(),
        },
    )
    assert signed.status_code == 201, signed.get_json()
    assert signed.get_json()["contract"]["channel"] == "kiosk"
    with app.app_context():
        row = Contract.query.one()
        assert row.channel == Channel.kiosk and row.kiosk_id and row.phone == PHONE and row.signer_user_id is None
    used = kiosk.open("/kiosk/v1/sessions", json={"ecode": code})
    assert used.status_code == 400 and used.get_json()["error"]["code"] == "INVALID_ECODE"


def test_unsign_at_the_kiosk_R10(app, client, kiosk):
    code, _ = ecode(client)
    session = kiosk.open("/kiosk/v1/sessions", json={"ecode": code}).get_json()["session"]
    kiosk.open("/kiosk/v1/postpay/sms-code", json={"session": session, "phone": PHONE})
    kiosk.open(
        "/kiosk/v1/postpay/contracts",
        json={
            "session": session,
            "commitment_version": "2026.1",
            "sms_code": last_sms_code(client, PHONE),
            "signature_png": base64.b64encode(png()).decode(),
        },
    )
    assert kiosk.open("/kiosk/v1/postpay/contracts/cancel", json={"session": session}).status_code == 204
    again = kiosk.open("/kiosk/v1/postpay/contracts/cancel", json={"session": session})
    assert again.status_code == 404 and again.get_json()["error"]["code"] == "NO_CONTRACT"


@pytest.mark.parametrize("tamper", ["signature", "secret", "body", "path", "stale", "device"])
def test_unsigned_forged_or_stale_requests_get_401(app, client, kiosk, tamper):
    code, _ = ecode(client)
    body = b'{"ecode": "%s"}' % code.encode()
    headers = kiosk.headers("POST", "/kiosk/v1/sessions", body)
    if tamper == "signature":
        headers["X-Signature"] = "0" * 64
    elif tamper == "secret":
        headers = SignedCaller(client, "X-Kiosk-Id", "KIOSK-NT01-01", "wrong").headers(
            "POST", "/kiosk/v1/sessions", body
        )
    elif tamper == "body":
        body = body.replace(b"}", b', "x": 1}')
    elif tamper == "path":
        headers = kiosk.headers("POST", "/kiosk/v1/postpay/sms-code", body)
    elif tamper == "stale":
        headers = kiosk.headers("POST", "/kiosk/v1/sessions", body, timestamp=time.time() - 301)
    elif tamper == "device":
        headers["X-Kiosk-Id"] = "KIOSK-UNKNOWN"
    resp = client.post("/kiosk/v1/sessions", data=body, headers=headers, content_type="application/json")
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] in ("BAD_SIGNATURE", "STALE_REQUEST")


def test_a_replayed_request_gets_401(client, kiosk):
    code, _ = ecode(client)
    body = b'{"ecode": "%s"}' % code.encode()
    headers = kiosk.headers("POST", "/kiosk/v1/sessions", body)
    first = client.post("/kiosk/v1/sessions", data=body, headers=headers, content_type="application/json")
    replay = client.post("/kiosk/v1/sessions", data=body, headers=headers, content_type="application/json")
    assert first.status_code == 201
    assert replay.status_code == 401 and replay.get_json()["error"]["code"] == "REPLAYED_REQUEST"


def test_a_session_works_only_on_the_kiosk_that_opened_it(app, client, kiosk):
    with app.app_context():
        add_device("NT01", "KIOSK-NT01-02", "kiosk-secret-02")
        db.session.commit()
    other = SignedCaller(client, "X-Kiosk-Id", "KIOSK-NT01-02", "kiosk-secret-02")
    code, _ = ecode(client)
    session = kiosk.open("/kiosk/v1/sessions", json={"ecode": code}).get_json()["session"]
    resp = other.open("/kiosk/v1/postpay/sms-code", json={"session": session, "phone": PHONE})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "SESSION_EXPIRED"


def test_an_ineligible_patient_at_the_kiosk_gets_no_code_R1(client, kiosk):
    code, _ = ecode(client, insured_region="310101", id_number=make_id_number(region="310101"))
    session = kiosk.open("/kiosk/v1/sessions", json={"ecode": code}).get_json()
    assert "NOT_LOCAL_INSURED" in [r["code"] for r in session["eligibility"]["reasons"]]
    resp = kiosk.open("/kiosk/v1/postpay/sms-code", json={"session": session["session"], "phone": PHONE})
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "NOT_ELIGIBLE"


def test_cli_registers_hospitals_and_kiosks(app, runner):
    out = runner.invoke(args=["hospital", "add", "HA01", "海安市中医院", "--mchid", "1900000110", "--his-secret", "s"])
    assert out.exit_code == 0 and "created hospital HA01" in out.output
    out = runner.invoke(args=["hospital", "add", "HA01", "海安市中医院", "--mchid", "1900000111", "--his-secret", "t"])
    assert "updated hospital HA01" in out.output
    out = runner.invoke(args=["kiosk", "add", "HA01", "KIOSK-HA01-01"])
    assert out.exit_code == 0 and "secret" in out.output
