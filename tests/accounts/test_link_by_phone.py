"""One person, two apps, without a unionid: the official-account account links with the
mini-program account whose phone WeChat vouched for, by confirming that phone with an SMS code.
Never two people: different verified patients or unionids are refused."""

import pytest

from tests.conftest import bearer, last_sms_code

PHONE = "13912345678"


def me(client, token):
    resp = client.get("/api/v1/me", headers=bearer(token))
    return resp.status_code, resp.get_json().get("user")


def send(client, token, phone=PHONE):
    return client.post("/api/v1/me/link/sms", json={"phone": phone}, headers=bearer(token))


def confirm(client, token, code, phone=PHONE):
    return client.post("/api/v1/me/link/confirm", json={"phone": phone, "code": code}, headers=bearer(token))


def error_code(resp):
    return resp.status_code, resp.get_json()["error"]["code"]


@pytest.fixture
def mini(person, phone):
    """A verified mini-program account whose phone WeChat vouched for."""
    token, patient = person("mini-phone-1")
    phone(token, PHONE)
    return token, patient


def test_confirming_the_phone_makes_one_account(client, mini, oa_login):
    mini_token, patient = mini
    oa_token = oa_login("oa-phone-1")
    assert send(client, oa_token).status_code == 204
    text = client.get("/sandbox/sms/outbox?phone=" + PHONE).get_json()["messages"][-1]["text"]
    assert "关联" in text
    resp = confirm(client, oa_token, last_sms_code(client, PHONE))
    assert resp.status_code == 200, resp.get_json()
    linked = resp.get_json()
    assert linked["user"]["id"] == me(client, mini_token)[1]["id"]
    assert [p["id"] for p in linked["user"]["patients"]] == [patient["id"]]
    assert me(client, oa_token)[0] == 401  # the old token and the empty row are gone
    assert me(client, linked["token"])[1]["id"] == linked["user"]["id"]
    again = oa_login("oa-phone-1")  # the official account now signs in to the one account
    assert me(client, again)[1]["id"] == linked["user"]["id"]


def test_a_wrong_code_then_too_many_wrong_codes(client, mini, oa_login):
    oa_token = oa_login("oa-phone-2")
    send(client, oa_token)
    good = last_sms_code(client, PHONE)
    wrong = "%06d" % ((int(good) + 1) % 1_000_000)
    for _ in range(4):
        assert error_code(confirm(client, oa_token, wrong)) == (422, "SMS_CODE_WRONG")
    assert error_code(confirm(client, oa_token, wrong)) == (422, "SMS_CODE_LOCKED")
    assert error_code(confirm(client, oa_token, good)) == (422, "SMS_CODE_EXPIRED")  # the code is gone
    assert me(client, oa_token)[1]["id"] != me(client, mini[0])[1]["id"]


def test_an_expired_or_never_sent_code_is_refused(client, redis, mini, oa_login):
    oa_token = oa_login("oa-phone-3")
    assert error_code(confirm(client, oa_token, "123456")) == (422, "SMS_CODE_EXPIRED")
    send(client, oa_token)
    code = last_sms_code(client, PHONE)
    for key in redis.scan_iter("sms:code:link:*"):
        redis.delete(key)  # five minutes have passed
    assert error_code(confirm(client, oa_token, code)) == (422, "SMS_CODE_EXPIRED")


def test_the_code_is_for_the_phone_it_was_sent_to_and_the_account_that_asked(client, mini, oa_login):
    oa_token, other_token = oa_login("oa-phone-4"), oa_login("oa-phone-4b")
    send(client, oa_token)
    code = last_sms_code(client, PHONE)
    assert error_code(confirm(client, other_token, code)) == (422, "SMS_CODE_EXPIRED")
    assert error_code(confirm(client, oa_token, code, phone="13900000000")) == (422, "SMS_CODE_WRONG")


def test_sends_are_rate_limited(client, mini, oa_login):
    oa_token = oa_login("oa-phone-5")
    assert send(client, oa_token).status_code == 204
    assert error_code(send(client, oa_token)) == (429, "SMS_RATE_LIMITED")


def test_a_phone_of_nobody_gets_a_code_but_links_nothing(client, oa_login):
    oa_token = oa_login("oa-phone-6")
    assert send(client, oa_token, "13700000009").status_code == 204  # no hint whether anyone has it
    resp = confirm(client, oa_token, last_sms_code(client, "13700000009"), phone="13700000009")
    assert error_code(resp) == (404, "NO_ACCOUNT_FOR_PHONE")


def test_two_different_verified_people_are_never_linked(client, mini, oa_login, verify):
    oa_token = oa_login("oa-phone-7")
    assert verify(oa_token, name="王芳").status_code == 200  # someone else, verified
    send(client, oa_token)
    resp = confirm(client, oa_token, last_sms_code(client, PHONE))
    assert error_code(resp) == (409, "IDENTITY_CONFLICT")
    assert me(client, oa_token)[1]["id"] != me(client, mini[0])[1]["id"]


def test_two_different_unionids_are_never_linked(client, login, phone, oa_login):
    mini_token = login("mini-phone-8", unionid="union-8a")
    phone(mini_token, PHONE)
    oa_token = oa_login("oa-phone-8", unionid="union-8b")
    send(client, oa_token)
    resp = confirm(client, oa_token, last_sms_code(client, PHONE))
    assert error_code(resp) == (409, "ACCOUNT_CONFLICT")


def test_two_accounts_of_the_same_app_are_never_linked(client, mini, login):
    other_mini = login("mini-phone-9")
    send(client, other_mini)
    assert error_code(confirm(client, other_mini, last_sms_code(client, PHONE))) == (409, "ACCOUNT_CONFLICT")


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/v1/me/link/sms", {"phone": "12345"}),
        ("/api/v1/me/link/sms", {}),
        ("/api/v1/me/link/confirm", {"phone": PHONE, "code": "12ab56"}),
        ("/api/v1/me/link/confirm", {"phone": PHONE}),
    ],
)
def test_bad_input_gets_the_error_format(client, oa_login, path, body):
    resp = client.post(path, json=body, headers=bearer(oa_login("oa-phone-10")))
    assert error_code(resp) == (422, "VALIDATION_ERROR")


@pytest.mark.parametrize("path", ["/api/v1/me/link/sms", "/api/v1/me/link/confirm"])
def test_linking_needs_a_signed_in_account(client, path):
    assert error_code(client.post(path, json={"phone": PHONE, "code": "123456"})) == (401, "UNAUTHORIZED")
