"""payAuthNo is kept only as long as the platform said: a quote after that asks the person to
authorize again (409 PAY_AUTH_EXPIRED) before the platform hears of the bills."""

import datetime as dt

from postpay.accounts.models import Patient
from postpay.extensions import db
from postpay.schedule import run_sweeps
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


def test_an_expired_payauthno_is_not_kept_at_rest(app, person, verify):
    """R8: the sweep drops a payAuthNo once the platform stops honouring it, and only then."""
    _, old = person("o-i-old", name="郑女", birth="19860404", pay_auth_expires_in=0)
    _, fresh = person("o-i-new", name="冯男", birth="19870505")
    with app.app_context():
        ran = dict(run_sweeps(dt.datetime.now(dt.UTC)))
        assert ran["forget_expired_pay_auth"] == 1
        kept = {p.id: (p.pay_auth_no, p.pay_auth_expires_at) for p in db.session.query(Patient)}
    assert kept[old["id"]] == (None, None)
    assert kept[fresh["id"]][0] and kept[fresh["id"]][1] is not None
