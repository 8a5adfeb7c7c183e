"""Field encryption, blind index, masking, and no plaintext identity data at rest."""

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import text

from postpay import security
from postpay.extensions import db
from tests.conftest import bearer, make_id_number


def test_encrypt_round_trip_is_randomised(app):
    with app.app_context():
        a, b = security.encrypt("13812345678", "phone"), security.encrypt("13812345678", "phone")
        assert a != b and a.startswith("v1:")
        assert security.decrypt(a, "phone") == "13812345678"


def test_ciphertext_is_bound_to_its_field_and_detects_tampering(app):
    with app.app_context():
        sealed = security.encrypt("320602198001010013", "id_number")
        with pytest.raises(InvalidTag):
            security.decrypt(sealed, "phone")
        raw = bytearray(sealed.encode())
        raw[20] = ord("A") if raw[20] != ord("A") else ord("B")  # a byte of the ciphertext
        with pytest.raises((InvalidTag, ValueError)):
            security.decrypt(raw.decode(), "id_number")


def test_blind_index_is_keyed_and_deterministic(app, config, keys):
    from app import create_app

    with app.app_context():
        first = security.blind_index("320602198001010013", "id_number")
        assert first == security.blind_index("320602198001010013", "id_number")
        assert first != security.blind_index("320602198001010013", "phone")
        assert "320602198001010013" not in first
    other = create_app(dict(config, POSTPAY_DATA_KEY="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
    with other.app_context():
        assert security.blind_index("320602198001010013", "id_number") != first


@pytest.mark.parametrize(
    "fn, value, masked",
    [
        (security.mask_id_number, "32060219800101001X", "320602********001X"),
        (security.mask_phone, "13812345678", "138****5678"),
        (security.mask_name, "张建国", "张*国"),
        (security.mask_name, "张三", "张*"),
        (security.mask_text, "id 320602198001010013, tel 13812345678.", "id 320602********0013, tel 138****5678."),
        (security.mask_text, "电话13812345678，身份证320602198001010013", "电话138****5678，身份证320602********0013"),
        # A request id (hex) that happens to hold 11 phone-like digits stays whole: it ties log lines together.
        (security.mask_text, "[732d5f9d346a4138aa19712347119b61]", "[732d5f9d346a4138aa19712347119b61]"),
        (security.mask_text, "payAuthNo=AUTH3206A1B2C3D4E5F6 ok", "payAuthNo=AUTH******** ok"),
        (security.mask_text, "AUTHORIZATION header", "AUTHORIZATION header"),
    ],
)
def test_masking(fn, value, masked):
    assert fn(value) == masked


def test_raw_rows_hold_no_plaintext_identity_number_or_phone(app, client, login, verify, redis):
    """API.md: identity numbers and phones are encrypted at rest (and never shown unmasked)."""
    number = make_id_number(birth="19790315")
    token = login("o-raw-check")
    code = client.post("/sandbox/wechat/phone-codes", json={"phone": "13912345678"}).get_json()["code"]
    assert client.post("/api/v1/auth/phone", json={"code": code}, headers=bearer(token)).status_code == 200
    resp = verify(token, id_number=number)
    assert resp.status_code == 200
    with app.app_context():
        dump = []
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(text("SELECT * FROM %s" % table.name)):
                dump.append(" ".join(str(v) for v in row))
    dump = "\n".join(dump)
    assert "pt_" in dump and "us_" in dump  # the rows are there
    for secret in (number, number[6:14], "13912345678", "12345678"):
        assert secret not in dump
    # Nor in Redis (tokens, WeChat session keys, sandbox state excepted: it plays WeChat).
    for key in redis.scan_iter("auth:*"):
        value = redis.get(key).decode()
        assert "13912345678" not in value and number not in value
    # And the API shows them masked only.
    me = client.get("/api/v1/me", headers=bearer(token)).get_data(as_text=True)
    assert number not in me and "13912345678" not in me
