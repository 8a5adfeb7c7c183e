"""The medical-insurance envelope: SM4 encryption and an SM2/SM3 signature over the sorted fields."""

import datetime as dt
import time

import pytest

from wechat import medins
from wechat.medins_userquery import UserQuery, signature

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


PERSON = {
    "name": "王五",
    "id_number": "11010519491231002X",
    "insured_region": "320602",
    "insurance_type": "390",
    "insured_status": "1",
}


def _clients(app):
    cfg = app.config
    platform = medins.MedinsClient(
        cfg["LIVE_URL"] + "/sandbox/medins/api",
        cfg["MEDINS_APP_ID"],
        cfg["MEDINS_APP_SECRET"],
        cfg["MEDINS_PRIVATE_KEY"],
        cfg["MEDINS_PLATFORM_PUBLIC_KEY"],
        cfg["MEDINS_ORG_CODE"],
    )
    query = UserQuery(
        cfg["LIVE_URL"] + "/sandbox/medins", cfg["MEDINS_USERQUERY_PARTNER_ID"], cfg["MEDINS_USERQUERY_SECRET"]
    )
    return platform, query


def test_user_query_then_1101_against_the_sandbox(app, client):
    code = client.post("/sandbox/medins/auth-codes", json=PERSON).get_json()["auth_code"]
    platform, query = _clients(app)
    auth = query.query(code, "o-openid-1")
    assert auth["pay_auth_no"].startswith("AUTH") and auth["id_number"] == PERSON["id_number"]
    left = (auth["pay_auth_expires_at"] - dt.datetime.now(dt.UTC)).total_seconds()
    assert 1700 < left <= 1800  # the validity the platform stated, not ours
    person = platform.person_info("01", auth["pay_auth_no"], auth["id_number"], auth["name"])
    assert person.pop("psn_no").startswith("320602")
    assert person == {
        "name": "王五",
        "id_number": "11010519491231002X",
        "insured_region": "320602",
        "insurance_type": "resident",
        "insured_status": "normal",
    }
    with pytest.raises(medins.MedinsError) as e:
        query.query(code, "o-openid-1")  # single use
    assert e.value.code == medins.BAD_AUTH_CODE
    with pytest.raises(medins.MedinsError) as e:
        platform.person_info("01", "AUTHNOSUCHNUMBER0001")
    assert e.value.code == "1101"


def test_an_auth_code_can_state_a_payauthno_that_expires_at_once(app, client):
    code = client.post("/sandbox/medins/auth-codes", json=dict(PERSON, pay_auth_expires_in=0)).get_json()["auth_code"]
    auth = _clients(app)[1].query(code, "o-openid-2")
    assert auth["pay_auth_expires_at"] <= dt.datetime.now(dt.UTC)


@pytest.mark.parametrize("bad", [-1, 86401, "30", 1.5])
def test_the_sandbox_refuses_a_bad_validity(client, bad):
    resp = client.post("/sandbox/medins/auth-codes", json=dict(PERSON, pay_auth_expires_in=bad))
    assert resp.status_code == 422


def test_an_ecode_states_no_payauthno_validity(client):
    resp = client.post("/sandbox/medins/ecodes", json=dict(PERSON, pay_auth_expires_in=0))
    assert resp.status_code == 422


def _portal(app, partner_id=None, secret=None, stamp=None):
    cfg = app.config
    partner_id = partner_id or cfg["MEDINS_USERQUERY_PARTNER_ID"]
    stamp = stamp or str(int(time.time() * 1000))
    sig = signature(partner_id, secret or cfg["MEDINS_USERQUERY_SECRET"], stamp)
    headers = {"god-portal-timestamp": stamp, "god-portal-signature": sig, "god-portal-request-id": "r1"}
    return "/sandbox/medins/api/mipuserquery/userQuery/" + partner_id, headers


@pytest.mark.parametrize(
    "change, code",
    [
        ({"secret": "not-the-partner-secret"}, 40102),
        ({"stamp": str(int((time.time() - 600) * 1000))}, 40103),
        ({"stamp": "yesterday"}, 40103),
        ({"partner_id": "99999999"}, 40101),
    ],
    ids=["bad signature", "stale timestamp", "unreadable timestamp", "unknown partner"],
)
def test_user_query_refuses_bad_god_portal_headers(app, client, change, code):
    auth_code = client.post("/sandbox/medins/auth-codes", json=PERSON).get_json()["auth_code"]
    path, headers = _portal(app, **change)
    resp = client.post(path, json={"qrcode": auth_code, "openid": "o1"}, headers=headers)
    assert resp.get_json()["code"] == code
    path, headers = _portal(app)  # the code was not spent by the refused call
    assert client.post(path, json={"qrcode": auth_code, "openid": "o1"}, headers=headers).get_json()["code"] == 0


def test_user_query_needs_its_headers_and_body(app, client):
    path, headers = _portal(app)
    assert client.post(path, json={"qrcode": "x", "openid": "o"}).get_json()["code"] == 40103
    resp = client.post(path, json={"qrcode": 1}, headers=headers)
    assert resp.get_json()["code"] == 40001


def test_1101_refuses_other_transactions_and_certificates(app):
    platform = _clients(app)[0]
    assert platform.call("/fsi/api/rsfComIfsService/callService", {"infno": "9999"})["infcode"] == -1
    data = {"infno": "1101", "input": {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "x"}}}
    assert platform.call("/fsi/api/rsfComIfsService/callService", data)["infcode"] == -1


def test_keys_whose_hex_starts_with_04_still_verify():
    """gmssl lstrips "04" off public keys; a key that starts with those digits must survive."""
    private = "d8c3ebb14431ab56849f9b382849a17737086b6f6acf0c5c3f2ea594cd95a395"
    public = medins.public_key_of(private)
    assert public.startswith("04")
    envelope = medins.seal({"x": "1"}, APP_ID, SECRET, private)
    assert medins.unseal(envelope, SECRET, public) == {"x": "1"}


def test_1101_by_identity_card_answers_only_for_the_name_the_platform_holds_R8(app, client):
    """mdtrt_cert_type 02 (居民身份证): the number is the certificate, psn_name must be the holder's."""
    elder = dict(PERSON, name="钱阿婆", id_number="320602194803120025")
    assert client.post("/sandbox/medins/persons", json=elder).status_code == 201
    platform = _clients(app)[0]
    person = platform.person_by_id_card(elder["id_number"], "钱阿婆")
    assert person["name"] == "钱阿婆" and person["id_number"] == elder["id_number"]
    assert person["insurance_type"] == "resident" and person["psn_no"].startswith("320602")
    for number, name, why in [
        (elder["id_number"], "钱阿娣", "人员姓名与证件号码不匹配"),
        ("320602194803120041", "钱阿婆", "未查询到该人员参保信息"),
        (elder["id_number"], "", "证件号码与人员姓名必填"),
    ]:
        with pytest.raises(medins.MedinsError) as e:
            platform.person_by_id_card(number, name)
        assert e.value.code == medins.REFUSED_1101 and why in e.value.message


def test_a_person_known_from_an_auth_code_is_known_by_identity_card_too_R8(app, client):
    client.post("/sandbox/medins/auth-codes", json=PERSON)
    assert _clients(app)[0].person_by_id_card(PERSON["id_number"], "王五")["name"] == "王五"


@pytest.mark.parametrize(
    "change", [{"insured_region": "3206"}, {"insurance_type": "x"}, {"name": 5}, {"insured_status": None}]
)
def test_the_persons_helper_refuses_bad_people(client, change):
    resp = client.post("/sandbox/medins/persons", json=dict(PERSON) | change)
    assert resp.status_code in (400, 422) and set(resp.get_json()["error"]) == {"code", "message"}
