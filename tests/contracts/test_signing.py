"""Signing (R6-R8) and unsigning (R10) in the mini-program."""

import base64
import datetime as dt
import threading

import pytest
from sqlalchemy import text

from postpay.billing.models import Bill, BillStatus
from postpay.contracts.models import Contract
from postpay.extensions import db
from postpay.hospitals.models import Hospital
from tests.conftest import bearer, last_sms_code, make_id_number
from tests.pngs import bomb, chunk, faint, png

PHONE = "13822220001"


def b64(data):
    return base64.b64encode(data).decode()


def test_sign_R7_read_confirm_phone_sign_code_signed(app, client, person, signed):
    token, patient = person("o-s1")
    letter = client.get("/api/v1/postpay/commitment").get_json()
    assert letter["version"] == "2026.1"
    page = client.get(letter["url"].replace("http://localhost", ""))
    assert page.status_code == 200 and "信用承诺书" in page.get_data(as_text=True)
    resp = signed(token, patient["id"], PHONE, commitment_version=letter["version"])
    assert resp.status_code == 201, resp.get_json()
    contract = resp.get_json()["contract"]
    assert contract["status"] == "active" and contract["channel"] == "miniprogram"
    assert contract["signed_at"].endswith("+08:00")
    sms = client.get("/sandbox/sms/outbox?phone=" + PHONE).get_json()["messages"][-1]["text"]
    assert sms.startswith("【先诊疗后付费】您的验证码为") and "5分钟内有效" in sms
    with app.app_context():
        row = db.session.get(Contract, contract["id"])
        assert row.phone == PHONE and row.commitment_version == "2026.1"
        assert row.commitment_sha256 == letter["sha256"]
        assert row.signature_png.startswith(b"\x89PNG") and row.client_ip == "127.0.0.1"
        assert row.user_agent.startswith("Werkzeug") and row.signer_user_id and row.guarantor_patient_id is None
        raw = db.session.execute(text("SELECT phone FROM contracts")).scalar_one()
        assert PHONE not in raw


def test_old_letter_version_gets_409_and_unknown_422_R7(client, person, signed):
    token, patient = person("o-s2")
    old = signed(token, patient["id"], PHONE, commitment_version="2025.1")
    assert old.status_code == 409 and old.get_json()["error"]["code"] == "COMMITMENT_OUTDATED"
    unknown = client.post(
        "/api/v1/postpay/contracts",
        json={
            "patient_id": patient["id"],
            "commitment_version": "1999.9",
            "sms_code": "123456",
            "signature_png": b64(png()),
        },
        headers=bearer(token),
    )
    assert unknown.status_code == 422 and unknown.get_json()["error"]["code"] == "UNKNOWN_COMMITMENT_VERSION"


def test_ineligible_patient_gets_no_code_and_cannot_sign_R1(client, person):
    token, patient = person("o-s3", insured_region="310101", id_number=make_id_number(region="310101"))
    resp = client.post(
        "/api/v1/postpay/sms-code", json={"patient_id": patient["id"], "phone": PHONE}, headers=bearer(token)
    )
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "NOT_ELIGIBLE"
    assert "本市参保" in resp.get_json()["error"]["message"]
    assert client.get("/sandbox/sms/outbox?phone=" + PHONE).get_json()["messages"] == []


def test_one_active_contract_per_patient_R6(app, client, person, signed, redis):
    token, patient = person("o-s4")
    assert signed(token, patient["id"], PHONE).status_code == 201
    again = client.post(
        "/api/v1/postpay/sms-code", json={"patient_id": patient["id"], "phone": PHONE}, headers=bearer(token)
    )
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "ALREADY_SIGNED"
    with app.app_context():  # the database itself refuses a second active contract
        first = Contract.query.one()
        twin = Contract(**{c.key: getattr(first, c.key) for c in Contract.__table__.columns if c.key != "id"})
        db.session.add(twin)
        with pytest.raises(Exception, match="(?i)unique|duplicate"):
            db.session.flush()
        db.session.rollback()


@pytest.mark.parametrize(
    "signature, why",
    [
        ("not base64!!", "base64"),
        (b64(b"\xff\xd8\xff\xe0" + b"JFIF" * 100), "PNG"),
        (b64(png()[:-20]), "损坏"),
        (b64(png()[:-8] + b"\x00\x00\x00\x00" + png()[-4:]), "损坏"),
        (b64(png(10, 10)), "尺寸"),
        (b64(png(5000, 70, ink=False, colour=0)), "尺寸"),
        (b64(png()[:33] + chunk(b"IDAT", b"garbage") + png()[-12:]), "损坏"),
        (b64(png(2000, 1500, colour=2) + b"\x00" * 200_000), "200KB"),
        ("data:image/png;base64," + b64(png()[:40]), "损坏"),
    ],
)
def test_signature_must_be_a_real_png_of_sane_size_R7(client, person, signed, signature, why):
    token, patient = person("o-s5")
    resp = signed(token, patient["id"], PHONE, signature_png=signature)
    if resp.status_code == 413:
        return  # the body limit caught it first
    codes = ("INVALID_SIGNATURE", "SIGNATURE_TOO_LARGE", "VALIDATION_ERROR")
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] in codes
    if resp.get_json()["error"]["code"] != "VALIDATION_ERROR":
        assert why in resp.get_json()["error"]["message"]


@pytest.mark.parametrize(
    "blank",
    [png(ink=False), png(ink=False, colour=2), png(ink=False, transparent=True), faint()],
    ids=["white", "white-rgb", "transparent", "a-few-specks"],
)
def test_a_blank_signature_gets_422_SIGNATURE_BLANK_R7(client, person, signed, blank):
    token, patient = person("o-s-blank")
    resp = signed(token, patient["id"], PHONE, signature_png=b64(blank))
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "SIGNATURE_BLANK", resp.get_json()


@pytest.mark.parametrize("width, height", [(2100, 2000), (4000, 4000), (60000, 60000)])
def test_over_4_megapixels_is_refused_from_the_header_before_decoding(client, person, signed, width, height):
    """The image data of these files is garbage: only a check of the header's size answers
    SIGNATURE_TOO_LARGE rather than a broken image (a decompression bomb is never inflated)."""
    token, patient = person("o-s-bomb")
    resp = signed(token, patient["id"], PHONE, signature_png=b64(bomb(width, height)))
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "SIGNATURE_TOO_LARGE", resp.get_json()


@pytest.mark.parametrize("image", [png(), png(transparent=True), png(colour=0)], ids=["rgba", "transparent", "grey"])
def test_data_url_signatures_are_accepted(client, person, signed, image):
    token, patient = person("o-s6")
    assert signed(token, patient["id"], PHONE, signature_png="data:image/png;base64," + b64(image)).status_code == 201


def _send(client, token, patient_id, number=PHONE):
    return client.post(
        "/api/v1/postpay/sms-code", json={"patient_id": patient_id, "phone": number}, headers=bearer(token)
    )


def _sign(client, token, patient_id, code):
    body = {"patient_id": patient_id, "commitment_version": "2026.1", "sms_code": code, "signature_png": b64(png())}
    return client.post("/api/v1/postpay/contracts", json=body, headers=bearer(token))


def test_sms_code_is_single_use_and_stored_only_as_a_digest_R7(client, person, redis):
    token, patient = person("o-s7")
    assert _send(client, token, patient["id"]).status_code == 204
    code = last_sms_code(client, PHONE)
    for key in redis.scan_iter("sms:*"):
        if redis.type(key) == b"hash":
            assert code.encode() not in b"".join(redis.hgetall(key).values())
            assert 0 < redis.ttl(key) <= 300
    assert _sign(client, token, patient["id"], code).status_code == 201
    assert (
        client.delete(
            "/api/v1/postpay/contracts/"
            + client.get("/api/v1/postpay/contracts", headers=bearer(token)).get_json()["contracts"][0]["id"],
            headers=bearer(token),
        ).status_code
        == 204
    )
    reused = _sign(client, token, patient["id"], code)
    assert reused.status_code == 422 and reused.get_json()["error"]["code"] == "SMS_CODE_EXPIRED"


def test_five_wrong_tries_kill_the_code_R7(client, person):
    token, patient = person("o-s8")
    _send(client, token, patient["id"])
    code = last_sms_code(client, PHONE)
    wrong = "%06d" % ((int(code) + 1) % 1_000_000)
    answers = [_sign(client, token, patient["id"], wrong).get_json()["error"]["code"] for _ in range(5)]
    assert answers == ["SMS_CODE_WRONG"] * 4 + ["SMS_CODE_LOCKED"]
    assert _sign(client, token, patient["id"], code).get_json()["error"]["code"] == "SMS_CODE_EXPIRED"


def test_code_expires_after_five_minutes_R7(client, person, redis):
    token, patient = person("o-s9")
    _send(client, token, patient["id"])
    key = "sms:code:" + patient["id"]
    redis.pexpire(key, 1)  # as Redis will after the 300 s TTL
    while redis.exists(key):
        pass
    assert _sign(client, token, patient["id"], last_sms_code(client, PHONE)).status_code == 422


def test_send_limits_per_phone_and_per_patient_R7(client, person, redis):
    token, patient = person("o-s10")
    other_token, other = person("o-s11")
    assert _send(client, token, patient["id"]).status_code == 204
    assert _send(client, token, patient["id"]).status_code == 429  # same phone, same minute
    assert _send(client, token, patient["id"], "13822220002").status_code == 429  # same patient, same minute
    assert _send(client, other_token, other["id"]).status_code == 429  # same phone, another patient
    sent = 1
    while sent < 10:  # a minute passes between sends
        for key in redis.scan_iter("sms:min:*"):
            redis.delete(key)
        assert _send(client, token, patient["id"]).status_code == 204
        sent += 1
    for key in redis.scan_iter("sms:min:*"):
        redis.delete(key)
    eleventh = _send(client, token, patient["id"])
    assert eleventh.status_code == 429 and eleventh.get_json()["error"]["code"] == "SMS_DAILY_LIMIT"
    assert _send(client, other_token, other["id"], "13822220003").status_code == 204  # other phone and patient
    assert len(client.get("/sandbox/sms/outbox?phone=" + PHONE).get_json()["messages"]) == 10


def test_a_code_works_only_for_whoever_asked_for_it_R7(client, person, bind, phone):
    elder_token, elder = person("o-s12", birth="19450101")
    child_token, _ = person("o-s13")
    bind(child_token, elder_token, elder)
    phone(child_token, "13933330009")
    _send(client, elder_token, elder["id"])
    code = last_sms_code(client, PHONE)
    stolen = _sign(client, child_token, elder["id"], code)
    assert stolen.status_code == 422 and stolen.get_json()["error"]["code"] == "SMS_CODE_EXPIRED"
    assert _sign(client, elder_token, elder["id"], code).status_code == 201


def test_relative_with_pay_signs_for_an_elder_without_phone_as_guarantor_R15(app, client, person, bind, phone):
    elder_token, elder = person("o-s14", name="张建国", birth="19480312")
    child_token, child = person("o-s15", name="张晓明")
    bind(child_token, elder_token, elder)
    phone(child_token, "13933330001")
    mismatch = _send(client, child_token, elder["id"], "13933339999")
    assert mismatch.status_code == 422 and mismatch.get_json()["error"]["code"] == "PHONE_MISMATCH"
    assert _send(client, child_token, elder["id"], "13933330001").status_code == 204
    resp = _sign(client, child_token, elder["id"], last_sms_code(client, "13933330001"))
    assert resp.status_code == 201
    with app.app_context():
        row = db.session.get(Contract, resp.get_json()["contract"]["id"])
        assert row.patient_id == elder["id"] and row.guarantor_patient_id == child["id"]
        assert row.phone == "13933330001"
    assert client.get("/api/v1/postpay/eligibility", headers=bearer(elder_token)).get_json()["eligible"] is True


def test_proxy_signing_needs_pay_and_an_elder_without_phone_R15(client, person, bind, phone):
    elder_token, elder = person("o-s16", birth="19480312")
    viewer_token, _ = person("o-s17")
    payer_token, _ = person("o-s18")
    bind(viewer_token, elder_token, elder, permissions=["view"])
    bind(payer_token, elder_token, elder, permissions=["pay"])
    phone(viewer_token, "13933330002")
    phone(payer_token, "13933330003")
    denied = _send(client, viewer_token, elder["id"], "13933330002")
    assert denied.status_code == 403 and denied.get_json()["error"]["code"] == "PERMISSION_DENIED"
    phone(elder_token, "13933330004")
    has_phone = _send(client, payer_token, elder["id"], "13933330003")
    assert has_phone.status_code == 403 and has_phone.get_json()["error"]["code"] == "ELDER_HAS_PHONE"


def _hospital():
    hospital = Hospital(code="H1", name="南通市第一人民医院", mchid="1900000109", his_secret="s")
    db.session.add(hospital)
    db.session.flush()
    return hospital


def test_unsign_waits_for_unpaid_bills_then_keeps_history_R10(app, client, person, signed):
    token, patient = person("o-s19")
    contract_id = signed(token, patient["id"], PHONE).get_json()["contract"]["id"]
    with app.app_context():
        bill = Bill(
            patient_id=patient["id"],
            hospital_id=_hospital().id,
            visit_day=dt.date(2026, 11, 20),
            status=BillStatus.due,
            total_fen=12_300,
        )
        db.session.add(bill)
        db.session.commit()
        bill_id = bill.id
    blocked = client.delete("/api/v1/postpay/contracts/" + contract_id, headers=bearer(token))
    assert blocked.status_code == 409 and blocked.get_json()["error"]["code"] == "OUTSTANDING_BILLS"
    with app.app_context():
        db.session.get(Bill, bill_id).status = BillStatus.paid
        db.session.commit()
    assert client.delete("/api/v1/postpay/contracts/" + contract_id, headers=bearer(token)).status_code == 204
    twice = client.delete("/api/v1/postpay/contracts/" + contract_id, headers=bearer(token))
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "CONTRACT_STATE"
    assert client.get("/api/v1/postpay/eligibility", headers=bearer(token)).get_json()["eligible"] is False
    app.extensions["redis"].delete(*list(app.extensions["redis"].scan_iter("sms:min:*")))
    again = signed(token, patient["id"], PHONE)
    assert again.status_code == 201 and again.get_json()["contract"]["id"] != contract_id
    history = client.get("/api/v1/postpay/contracts", headers=bearer(token)).get_json()["contracts"]
    assert [c["status"] for c in history] == ["active", "cancelled"]


def test_concurrent_signatures_make_one_contract_R6(app, client, person, signed):
    token, patient = person("o-s20")
    _send(client, token, patient["id"])
    code = last_sms_code(client, PHONE)
    results = []

    def go():
        results.append(_sign(app.test_client(), token, patient["id"], code).status_code)

    threads = [threading.Thread(target=go) for _ in range(5)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(results).count(201) == 1
    with app.app_context():
        assert Contract.query.count() == 1
