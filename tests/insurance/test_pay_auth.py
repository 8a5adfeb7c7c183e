"""payAuthNo is kept only as long as the platform said: a quote after that asks the person to
authorize again (409 PAY_AUTH_EXPIRED) before the platform hears of the bills."""

from tests.conftest import bearer


def test_an_expired_payauthno_asks_to_authorize_again_before_the_platform(
    app, client, person, verify, signed, due_bill, quote
):
    token, patient = person("o-i-exp", name="吴女", birth="19850303", pay_auth_expires_in=0)
    assert signed(token, patient["id"], "13566660009").status_code == 201
    bill = due_bill(patient, "E1")
    refused = quote(token, [bill])
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "PAY_AUTH_EXPIRED"
    assert "重新进行医保授权" in refused.get_json()["error"]["message"]
    shown = client.get("/api/v1/bills/" + bill, headers=bearer(token))
    assert shown.status_code == 200 and shown.get_json()["bill"]["status"] == "due"  # not taken by the refusal
    again = verify(token, name="吴女", id_number=patient["id_number_plain"])  # authorizes again
    assert again.status_code == 200
    assert quote(token, [bill]).status_code == 201
