"""A mini-program developer's view: a Python client generated from ``/openapi.json`` by
openapi-python-client drives login -> bills -> pay against the live test server and the
sandbox (issue 20). Where the generator fails on our document, the document is fixed.

The generator runs once per test module, offline (``--path``, no post hooks, so no ruff or
network), into a temporary directory that is put on ``sys.path``."""

import datetime as dt
import enum
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import make_id_number

PACKAGE = "postpay_client"
#: No post hooks: the generated code is imported, not formatted.
CONFIG = {"post_hooks": [], "package_name_override": PACKAGE, "project_name_override": PACKAGE}
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return {"dir": tmp_path_factory.mktemp("genclient"), "modules": None}


@pytest.fixture
def api(client, workdir):
    """The generated package's modules, generated on first use from the app's own /openapi.json."""
    if workdir["modules"] is None:
        where = workdir["dir"]
        (where / "openapi.json").write_text(json.dumps(client.get("/openapi.json").get_json()))
        (where / "config.json").write_text(json.dumps(CONFIG))
        run = subprocess.run(
            [str(GENERATOR), "generate", "--path", "openapi.json", "--config", "config.json"]
            + ["--meta", "none", "--output-path", PACKAGE, "--overwrite", "--fail-on-warning"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        sys.path.insert(0, str(where))
        names = ["client", "api.accounts.accounts_wechat_login", "api.accounts.accounts_me"]
        names += ["api.billing.billing_outstanding"]
        names += ["api.billing.billing_show", "api.payments.payments_create", "api.payments.payments_show"]
        names += ["models.accounts_wechat_login_body", "models.payments_create_body", "models.error"]
        workdir["modules"] = {n.rsplit(".", 1)[-1]: importlib.import_module("%s.%s" % (PACKAGE, n)) for n in names}
    return workdir["modules"]


def test_the_generator_accepts_the_document_and_a_client_logs_in_sees_a_bill_and_pays_it(
    app, api, client, verify, signed, his
):
    live = app.config["LIVE_URL"]
    code = requests.post(live + "/sandbox/wechat/login-codes", json={"openid": "o-gen-1"}, timeout=10).json()["code"]
    anonymous = api["client"].Client(base_url=live, raise_on_unexpected_status=True)
    body = api["accounts_wechat_login_body"].AccountsWechatLoginBody(code=code)
    login = api["accounts_wechat_login"].sync(client=anonymous, body=body)
    assert login.token and login.expires_in > 0
    assert login.user.patients == []  # not verified yet

    # setup as the other tests do it: a verified, signed patient with a finished visit's bill
    id_number = make_id_number()
    patient = verify(login.token, name="周生成", id_number=id_number).get_json()["patient"]
    assert signed(login.token, patient["id"], "13599990021").status_code == 201
    bill_id = his_bill(his, {"name": "周生成", "id_number_plain": id_number}, "GEN-1", 4200)

    me = api["client"].AuthenticatedClient(base_url=live, token=login.token, raise_on_unexpected_status=True)
    [own] = api["accounts_me"].sync(client=me).user.patients
    assert (own.relationship, own.verified_by) == ("self", "e_voucher")
    assert isinstance(own.verified_by, enum.Enum)  # a nullable enum reads as one optional enum
    outstanding = api["billing_outstanding"].sync(client=me)
    assert [(b.id, b.amount_fen, b.status) for b in outstanding.bills] == [(bill_id, 4200, "due")]
    assert isinstance(outstanding.bills[0].due_at, dt.datetime)  # format: date-time, parsed

    pay = api["payments_create_body"].PaymentsCreateBody(bill_ids=[bill_id])
    created = api["payments_create"].sync(client=me, body=pay, idempotency_key="gen-key-0001")
    assert created.payment.status == "pending" and created.payment.total_fen == 4200
    again = api["payments_create"].sync(client=me, body=pay, idempotency_key="gen-key-0001")
    assert again.payment.id == created.payment.id  # the declared header does what it says

    paid = requests.post(live + "/sandbox/wechatpay/orders/%s/pay" % created.payment.out_trade_no, timeout=10)
    assert paid.json()["status"] == 200
    assert api["payments_show"].sync(created.payment.id, client=me).payment.status == "paid"
    bill = api["billing_show"].sync(bill_id, client=me).bill
    assert (bill.status, [p.status for p in bill.payments]) == ("paid", ["paid"])
    assert api["billing_outstanding"].sync(client=me).bills == []


def test_an_error_answer_parses_into_its_status_error_model(app, api, login):
    me = api["client"].AuthenticatedClient(base_url=app.config["LIVE_URL"], token=login("o-gen-2"))
    pay = api["payments_create_body"].PaymentsCreateBody(bill_ids=["no-such-bill"])
    answer = api["payments_create"].sync_detailed(client=me, body=pay, idempotency_key="gen-key-0002")
    assert answer.status_code in (404, 409, 422)
    # Each error status has its own model (its codes as an enum in the document).
    assert type(answer.parsed).__name__ == "PaymentsCreateResponse%d" % answer.status_code
    assert answer.parsed.error.code == json.loads(answer.content)["error"]["code"]


def his_bill(his, patient, no, fen):
    """An overdue bill: a visit two days ago, one item, finished (as tests/payments' ``due_bill``)."""
    visit = his.visit(no, patient, registered_at="2026-11-21T08:00:00+08:00")
    his.items(no, ("1", "exam", "检查", 1, fen))
    his.event(no, "visit_finished", at="2026-11-21T10:00:00+08:00")
    return visit["bill_id"]
