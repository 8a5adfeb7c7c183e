"""A patient suspended for arrears (R18), for the credit views and the export: import the fixture."""

import pytest

from tests.conftest import bearer, run_jobs


@pytest.fixture(name="arrears")
def arrears_fixture(app, client, runner, person, bind, signed, his):
    """Mum (孙秀英) signed; her bill at NT01 (visit R1, 300.00 yuan, with a sensitive item) was due
    2026-11-21 10:00 +08:00. Her son views and pays for her, her daughter only accompanies.
    ``suspend(now)`` runs the sweeps; ``repair()`` has the son pay every open bill."""
    mum_token, mum = person("o-cv-mum", name="孙秀英", birth="19500101")
    son_token, _ = person("o-cv-son", name="孙建国")
    daughter_token, _ = person("o-cv-daughter", name="孙建红")
    assert signed(mum_token, mum["id"], "13611120001").status_code == 201
    bind(son_token, mum_token, mum, permissions=["view", "pay"])
    bind(daughter_token, mum_token, mum, permissions=["accompany"])
    bills = []
    for no, finished in (("R1", "2026-11-20T10:00:00+08:00"), ("R2", "2026-11-22T10:00:00+08:00")):
        visit = his.visit(no, mum, registered_at=finished[:11] + "08:00:00+08:00")
        his.items(no, (no + "-1", "exam", "CT", 1, 20000), (no + "-2", "lab", "HIV抗体检测", 1, 10000))
        his.event(no, "visit_finished", at=finished)
        bills.append(visit["bill_id"])

    def suspend(now):
        out = runner.invoke(args=["jobs", "run-sweeps", "--now", now])
        assert out.exit_code == 0, out.output
        run_jobs(app)

    def repair():
        paid = client.post(
            "/api/v1/payments",
            json={"bill_ids": bills},
            headers=bearer(son_token) | {"Idempotency-Key": "cv-repair-01"},
        )
        assert paid.status_code == 201, paid.get_json()
        client.post("/sandbox/wechatpay/orders/%s/pay" % paid.get_json()["payment"]["out_trade_no"])

    return {
        "mum": mum_token,
        "son": son_token,
        "daughter": daughter_token,
        "patient": mum,
        "bills": bills,
        "suspend": suspend,
        "repair": repair,
    }
