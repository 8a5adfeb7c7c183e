import json

import pytest

from tests.conftest import bearer


@pytest.fixture
def family(person, bind, signed, app):
    """A son on the employee scheme who may pay for his mother, a resident; both signed for post-pay."""
    son_token, son = person("o-i-son", name="周明")
    mum_token, mum = person("o-i-mum", name="周母", birth="19520202", insurance_type="resident")
    for token, patient, number in ((son_token, son, "13566660001"), (mum_token, mum, "13566660002")):
        app.extensions["redis"].delete(*list(app.extensions["redis"].scan_iter("sms:min:*")) or ["x"])
        assert signed(token, patient["id"], number).status_code == 201
    bind(son_token, mum_token, mum, permissions=["view", "pay"])
    return {"son": son_token, "mum": mum_token, "son_patient": son, "mum_patient": mum}


@pytest.fixture
def due_bill(his):
    """``due_bill(patient, no, *items) -> bill id``: a finished visit's bill; items (no, category, name, qty, fen)."""

    def _due(patient, no, *items):
        visit = his.visit(no, patient, registered_at="2026-11-21T08:00:00+08:00")
        his.items(no, *(items or [("1", "exam", "CT检查", 1, 30000)]))
        his.event(no, "visit_finished", at="2026-11-21T10:00:00+08:00")
        return visit["bill_id"]

    return _due


@pytest.fixture
def rule(client):
    """``rule(**split_rule)``: how the sandbox platform splits (fund %, personal-account and 共济 balances)."""

    def _rule(**values):
        resp = client.post("/sandbox/medins/split-rule", json=values)
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()

    return _rule


@pytest.fixture
def quote(client):
    """``quote(token, bill_ids, mutual_aid=None, key=None) -> response`` of POST /api/v1/insurance-settlements."""

    def _quote(token, bill_ids, mutual_aid=None, key=None):
        body = {"bill_ids": bill_ids} | ({"mutual_aid_patient_id": mutual_aid} if mutual_aid else {})
        headers = bearer(token) | ({"Idempotency-Key": key} if key else {})
        return client.post("/api/v1/insurance-settlements", json=body, headers=headers)

    return _quote


@pytest.fixture
def ordered(client, quote):
    """``ordered(token, bill_ids, mutual_aid=None) -> settlement JSON`` after quote and confirm."""

    def _ordered(token, bill_ids, mutual_aid=None):
        quoted = quote(token, bill_ids, mutual_aid)
        assert quoted.status_code == 201, quoted.get_json()
        sid = quoted.get_json()["settlement"]["id"]
        confirmed = client.post("/api/v1/insurance-settlements/%s/confirm" % sid, json={}, headers=bearer(token))
        assert confirmed.status_code == 200, confirmed.get_json()
        return confirmed.get_json()

    return _ordered


def sandbox_order(redis, out_trade_no):
    """What WeChat's sandbox holds for a medical-insurance order (the request as it arrived)."""
    return json.loads(redis.get("sbx:pay:medins:" + out_trade_no))


def alerts(redis):
    return [json.loads(a) for a in redis.lrange("alerts:payments", 0, -1)]


def opened(app, value):
    """A sensitive field of a med-ins order as WeChat opens it: RSA-OAEP with the platform's private key."""
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    with open(app.config["SANDBOX_WECHATPAY_PLATFORM_PRIVATE_KEY_PATH"], "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    return key.decrypt(base64.b64decode(value), oaep).decode()
