"""The medical-insurance envelope: SM4 encryption and an SM2/SM3 signature over the sorted fields."""

import time

import pytest

from wechat import medins

APP_ID, SECRET = "medinsAPP0123456789", "s3cret-app"


@pytest.fixture(scope="module")
def pair():
    return medins.generate_sm2_keypair()


def test_round_trip(pair):
    data = {"authCode": "abc", "name": "张三", "n": 1}
    envelope = medins.seal(data, APP_ID, SECRET, pair[0])
    assert envelope["encType"] == "SM4" and envelope["signType"] == "SM2"
    assert "张三" not in str(envelope) and envelope["encData"].isupper()
    assert medins.unseal(envelope, SECRET, pair[1]) == data


def test_sign_string_sorts_fields_skips_empty_and_appends_the_key():
    s = medins.sign_string(
        {"timestamp": "1", "appId": "A", "extra": "x", "encData": "E", "version": ""}, {"b": 2, "a": "中"}, "K"
    )
    assert s == 'appId=A&data={"a":"中","b":2}&timestamp=1&key=K'


@pytest.mark.parametrize(
    "field, value",
    [("encData", None), ("signData", None), ("timestamp", None), ("appId", "medinsOTHERAPP0000")],
)
def test_tampering_is_detected(pair, field, value):
    envelope = medins.seal({"x": "1"}, APP_ID, SECRET, pair[0])
    if field == "encData":
        value = medins.seal({"x": "2"}, APP_ID, SECRET, pair[0])["encData"]
    elif field == "signData":
        value = medins.seal({"x": "2"}, APP_ID, SECRET, pair[0])["signData"]
    elif field == "timestamp":
        value = str(int(envelope["timestamp"]) + 1)
    envelope[field] = value
    with pytest.raises(medins.MedinsError):
        medins.unseal(envelope, SECRET, pair[1])


def test_wrong_key_stale_and_malformed_envelopes_are_refused(pair):
    envelope = medins.seal({"x": "1"}, APP_ID, SECRET, pair[0])
    with pytest.raises(medins.MedinsError, match="SIGNATURE"):
        medins.unseal(envelope, SECRET, medins.generate_sm2_keypair()[1])
    with pytest.raises(medins.MedinsError, match="ENVELOPE"):
        medins.unseal(envelope, "other-secret", pair[1])
    old = medins.seal({"x": "1"}, APP_ID, SECRET, pair[0], now=time.time() - 3600)
    with pytest.raises(medins.MedinsError, match="stale"):
        medins.unseal(old, SECRET, pair[1])
    with pytest.raises(medins.MedinsError, match="ENVELOPE"):
        medins.unseal({"encType": "SM4", "signType": "SM2"}, SECRET, pair[1])


def test_client_against_the_sandbox(app, client):
    cfg = app.config
    person = {
        "name": "王五",
        "id_number": "11010519491231002X",
        "insured_region": "320602",
        "insurance_type": "390",
        "insured_status": "1",
    }
    code = client.post("/sandbox/medins/auth-codes", json=person).get_json()["auth_code"]
    c = medins.MedinsClient(
        cfg["LIVE_URL"] + "/sandbox/medins/api",
        cfg["MEDINS_APP_ID"],
        cfg["MEDINS_APP_SECRET"],
        cfg["MEDINS_PRIVATE_KEY"],
        cfg["MEDINS_PLATFORM_PUBLIC_KEY"],
        cfg["MEDINS_ORG_CODE"],
    )
    assert c.query_auth_code(code) == {
        "name": "王五",
        "id_number": "11010519491231002X",
        "insured_region": "320602",
        "insurance_type": "resident",
        "insured_status": "normal",
    }
    with pytest.raises(medins.MedinsError) as e:
        c.query_auth_code(code)
    assert e.value.code == medins.BAD_AUTH_CODE


def test_keys_whose_hex_starts_with_04_still_verify():
    """gmssl lstrips "04" off public keys; a key that starts with those digits must survive."""
    private = "d8c3ebb14431ab56849f9b382849a17737086b6f6acf0c5c3f2ea594cd95a395"
    public = medins.public_key_of(private)
    assert public.startswith("04")
    envelope = medins.seal({"x": "1"}, APP_ID, SECRET, private)
    assert medins.unseal(envelope, SECRET, public) == {"x": "1"}
