import datetime as dt

import pytest

from tests.conftest import bearer


@pytest.fixture
def family(person, bind, signed, app):
    """A son who may pay for his mother; both signed for post-pay."""
    son_token, son = person("o-p-son", name="孙明")
    mum_token, mum = person("o-p-mum", name="孙母", birth="19520202")
    for token, patient, number in ((son_token, son, "13599990001"), (mum_token, mum, "13599990002")):
        app.extensions["redis"].delete(*list(app.extensions["redis"].scan_iter("sms:min:*")) or ["x"])
        assert signed(token, patient["id"], number).status_code == 201
    bind(son_token, mum_token, mum, permissions=["view", "pay"])
    return {"son": son_token, "mum": mum_token, "son_patient": son, "mum_patient": mum}


@pytest.fixture
def due_bill(his):
    """``due_bill(patient, no, fen, hospital="NT01", on_time=False) -> bill id``: a finished visit's
    bill, through the HIS: overdue (a visit days ago) or, ``on_time``, finished an hour ago."""

    def _due(patient, no, fen, hospital="NT01", on_time=False):
        caller = his.at(hospital)
        now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
        start, end = (now - dt.timedelta(hours=2), now - dt.timedelta(hours=1)) if on_time else (None, None)
        visit = caller.visit(no, patient, registered_at=start.isoformat() if start else "2026-11-21T08:00:00+08:00")
        caller.items(no, ("1", "exam", "检查", 1, fen))
        caller.event(no, "visit_finished", at=end.isoformat() if end else "2026-11-21T10:00:00+08:00")
        return visit["bill_id"]

    return _due


@pytest.fixture
def pay(client):
    """``pay(token, bill_ids, key) -> response`` of POST /api/v1/payments."""

    def _pay(token, bill_ids, key="key-0000000001"):
        return client.post(
            "/api/v1/payments", json={"bill_ids": bill_ids}, headers=bearer(token) | {"Idempotency-Key": key}
        )

    return _pay
