"""R8 at the kiosk without an e-voucher: the card reader's name and number, in a signed request,
confirmed with 1101; and R15: a parent consents there to a child's pending binding."""

import base64
import json

from postpay.accounts.models import Patient
from postpay.extensions import db
from postpay.family.models import Binding
from tests.conftest import SignedCaller, bearer, count_statements, last_sms_code
from tests.insured import ask_binding, insured
from tests.pngs import png


def masked(number):
    return number[:6] + "********" + number[-4:]


def test_a_kiosk_session_by_identity_card_then_signing_R8_R6(app, client, kiosk):
    elder = insured(client, "沈阿婆", birth="19460203")
    opened = kiosk.open("/kiosk/v1/sessions", json={"id_card": elder})
    assert opened.status_code == 201, opened.get_json()
    session = opened.get_json()
    assert session["patient"] == {"name": "沈*婆", "id_number": masked(elder["id_number"])}
    assert [r["code"] for r in session["eligibility"]["reasons"]] == ["NO_CONTRACT"]
    assert session["pending_bindings"] == []
    with app.app_context():
        assert Patient.query.one().verified_by == "kiosk_id_card"
    kiosk.open("/kiosk/v1/postpay/sms-code", json={"session": session["session"], "phone": "13655550009"})
    signed = kiosk.open(
        "/kiosk/v1/postpay/contracts",
        json={
            "session": session["session"],
            "commitment_version": session["commitment"]["version"],
            "sms_code": last_sms_code(client, "13655550009"),
            "signature_png": base64.b64encode(png()).decode(),
        },
    )
    assert signed.status_code == 201 and signed.get_json()["contract"]["channel"] == "kiosk"


def test_a_card_the_platform_does_not_confirm_opens_nothing_R8(app, client, kiosk, caplog):
    elder = insured(client, "韩阿婆")
    number = elder["id_number"]
    wrong_name = kiosk.open("/kiosk/v1/sessions", json={"id_card": dict(elder, name="韩阿姨")})
    assert wrong_name.status_code == 422 and wrong_name.get_json()["error"]["code"] == "ID_CARD_NOT_CONFIRMED"
    assert "人工窗口" in wrong_name.get_json()["error"]["message"]
    bad = kiosk.open("/kiosk/v1/sessions", json={"id_card": dict(elder, id_number=number[:17] + "Y")})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "BAD_ID_NUMBER"
    both = kiosk.open("/kiosk/v1/sessions", json={"id_card": elder, "ecode": "x"}).get_json()["error"]
    assert both["message"] == "请求体应提供且只提供以下之一：ecode、id_card"
    for body in ({"id_card": elder, "ecode": "x"}, {}, {"id_card": {"name": "韩阿婆"}}, {"id_card": "x"}):
        resp = kiosk.open("/kiosk/v1/sessions", json=body)
        assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "VALIDATION_ERROR", body
    with app.app_context():
        assert Patient.query.count() == 0
    assert number not in caplog.text and "韩阿婆" not in caplog.text


def test_the_identity_card_request_must_be_signed_by_the_kiosk_R8(client, kiosk):
    elder = insured(client, "杨阿婆")
    body = json.dumps({"id_card": elder}, ensure_ascii=False).encode()
    headers = kiosk.headers("POST", "/kiosk/v1/sessions", body)
    forged = body.replace("杨阿婆".encode(), "杨阿公".encode())
    assert forged != body
    resp = client.post("/kiosk/v1/sessions", data=forged, headers=headers, content_type="application/json")
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "BAD_SIGNATURE"
    wrong_key = SignedCaller(client, "X-Kiosk-Id", "KIOSK-NT01-01", "not-the-secret")
    assert wrong_key.open("/kiosk/v1/sessions", json={"id_card": elder}).status_code == 401


def test_a_parent_consents_at_the_kiosk_after_her_identity_card_R8_R15(app, client, kiosk, person):
    son_token, _ = person("o-k-son", name="朱晓明")
    mum = insured(client, "朱秀英", birth="19500505")
    binding_id = ask_binding(client, son_token, mum, relationship="parent").get_json()["binding"]["id"]
    session = kiosk.open("/kiosk/v1/sessions", json={"id_card": mum}).get_json()
    [pending] = session["pending_bindings"]
    # her son asked: she reads what he is to her
    assert pending["id"] == binding_id and pending["status"] == "pending" and pending["relationship"] == "child"
    assert pending["requester"]["name"] == "朱*明" and pending["permissions"] == ["pay", "view"]
    url = "/kiosk/v1/bindings/%s/consent" % binding_id
    ok = kiosk.open(url, json={"session": session["session"]})
    assert ok.status_code == 200 and ok.get_json()["binding"]["status"] == "active"
    with app.app_context():
        binding = db.session.get(Binding, binding_id)
        assert binding.consent_channel == "kiosk" and binding.consented_at
    twice = kiosk.open(url, json={"session": session["session"]})
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "BINDING_STATE"
    me = client.get("/api/v1/me", headers=bearer(son_token)).get_json()["user"]
    assert [p["relationship"] for p in me["patients"]] == ["self", "parent"]


def test_the_asker_cannot_consent_at_the_kiosk_R15(app, client, kiosk, person):
    son_token, son = person("o-k-son2", name="秦晓明")
    mum = insured(client, "秦秀英")
    binding_id = ask_binding(client, son_token, mum).get_json()["binding"]["id"]
    own = kiosk.open("/kiosk/v1/sessions", json={"id_card": {"name": "秦晓明", "id_number": son["id_number_plain"]}})
    assert own.status_code == 201 and own.get_json()["pending_bindings"] == []
    resp = kiosk.open("/kiosk/v1/bindings/%s/consent" % binding_id, json={"session": own.get_json()["session"]})
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "NOT_FOUND"
    expired = kiosk.open("/kiosk/v1/bindings/%s/consent" % binding_id, json={"session": "no-such-session"})
    assert expired.status_code == 401 and expired.get_json()["error"]["code"] == "SESSION_EXPIRED"
    with app.app_context():
        assert db.session.get(Binding, binding_id).status.value == "pending"


def test_the_pending_list_costs_the_same_queries_for_one_or_many_R15(app, client, kiosk, person):
    mum = insured(client, "许秀英")
    askers = [person("o-k-q%d" % i, name="许晓%s" % "一二三四"[i])[0] for i in range(4)]
    ask_binding(client, askers[0], mum)

    def open_session():
        resp = kiosk.open("/kiosk/v1/sessions", json={"id_card": mum})
        assert resp.status_code == 201
        return resp.get_json()

    one = count_statements(app, open_session)
    for token in askers[1:]:
        ask_binding(client, token, mum)
    answers = []
    many = count_statements(app, lambda: answers.append(open_session()))
    assert len(answers[0]["pending_bindings"]) == 4
    assert many == one, (one, many)
    print("kiosk session with pending bindings: %d statements" % many)


def test_a_platform_fault_is_not_a_refusal_and_stores_nobody_R8(app, client, kiosk, person):
    elder = insured(client, "尤阿婆")
    child_token, _ = person("o-k-fault")
    from wechat.medins import generate_sm2_keypair

    app.config["MEDINS_PLATFORM_PUBLIC_KEY"] = generate_sm2_keypair()[1]  # someone else signs the answer
    app.extensions.pop("postpay_clients", None)  # clients are built once from the config
    forged = kiosk.open("/kiosk/v1/sessions", json={"id_card": elder})
    assert forged.status_code == 502 and forged.get_json()["error"]["code"] == "UPSTREAM_ERROR"
    asked = ask_binding(client, child_token, elder)
    assert asked.status_code == 502 and asked.get_json()["error"]["code"] == "UPSTREAM_ERROR"
    app.config["POSTPAY_SANDBOX_URL"] = "http://127.0.0.1:9/sandbox"  # nothing listens there
    app.extensions.pop("postpay_clients", None)
    gone = kiosk.open("/kiosk/v1/sessions", json={"id_card": elder})
    assert gone.status_code == 502 and gone.get_json()["error"]["code"] == "UPSTREAM_ERROR"
    with app.app_context():
        assert Patient.query.filter_by(name="尤阿婆").count() == 0
