"""The same Idempotency-Key sent concurrently: every caller gets the one payment (no 409, no 500)."""

import threading

import requests

from postpay.extensions import db
from postpay.payments.models import Payment
from tests.conftest import bearer


def test_one_key_sent_by_eight_threads_at_once_gets_every_caller_the_one_payment(app, family, due_bill):
    bills = [due_bill(family["son_patient"], "K1", 2000), due_bill(family["mum_patient"], "K2", 3000)]
    url = app.config["LIVE_URL"] + "/api/v1/payments"
    headers = bearer(family["son"]) | {"Idempotency-Key": "same-key-from-a-double-tap"}
    barrier = threading.Barrier(8)
    answers = []

    def tap():
        barrier.wait()
        resp = requests.post(url, json={"bill_ids": bills}, headers=headers, timeout=60)
        answers.append((resp.status_code, resp.json()))

    threads = [threading.Thread(target=tap) for _ in range(8)]
    [t.start() for t in threads]
    [t.join(90) for t in threads]
    assert sorted(status for status, _ in answers) == [201] * 8, answers
    assert len({body["payment"]["id"] for _, body in answers}) == 1
    assert len({body["request_payment"]["package"] for _, body in answers}) == 1
    with app.app_context():
        assert db.session.query(Payment).count() == 1
