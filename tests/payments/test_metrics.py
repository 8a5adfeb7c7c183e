"""GET /metrics (issue 20): who may read it, and that it counts what happened: requests by route,
notifications applied, duplicated and refused, queued jobs and payment alerts."""

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from postpay import queue


def scrape(client, **kwargs):
    answer = client.get("/metrics", **kwargs)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    samples = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def test_metrics_are_for_the_host_or_the_token_only(app, client):
    assert client.get("/metrics").status_code == 200  # loopback, no token configured
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 404
    app.config["POSTPAY_METRICS_TOKEN"] = "m" * 32
    assert client.get("/metrics").status_code == 404  # with a token, the address alone is not enough
    assert client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 32}).status_code == 404
    token = {"Authorization": "Bearer " + "m" * 32}
    assert client.get("/metrics", headers=token, environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200


def test_requests_are_counted_by_route_not_by_path(client):
    before = scrape(client)
    for _ in range(3):
        assert client.get("/api/v1/visits/v-%d" % _).status_code == 401
    after = scrape(client)
    labels = {"route": "/api/v1/visits/<visit_id>", "method": "GET", "status": "401"}
    name = "postpay_http_request_duration_seconds_count"
    assert value(after, name, **labels) - value(before, name, **labels) == 3
    assert not [k for k in after if "v-1" in str(k)]  # ids never become labels


@pytest.fixture
def pending(family, due_bill, pay):
    bill = due_bill(family["mum_patient"], "M1", 30000)
    return pay(family["son"], [bill]).get_json()["payment"]


def test_notifications_applied_duplicated_and_refused_are_counted(app, client, pending):
    name = "postpay_notifications_total"
    out_trade_no = pending["out_trade_no"]
    assert client.post("/sandbox/wechatpay/orders/%s/pay" % out_trade_no).get_json()["status"] == 200
    assert client.post("/sandbox/wechatpay/orders/%s/renotify" % out_trade_no).get_json()["status"] == 200
    saved = json.loads(app.extensions["redis"].get("sbx:pay:last:" + out_trade_no))
    forged = dict(saved["headers"])
    forged["Wechatpay-Signature"] = forged["Wechatpay-Signature"][:-8] + "AAAAAAA="
    assert client.post("/wechat/pay/notify", data=saved["body"].encode(), headers=forged).status_code == 401
    samples = scrape(client)
    assert value(samples, name, outcome="applied") == 1
    assert value(samples, name, outcome="duplicate") == 1
    assert value(samples, name, outcome="refused") == 1


def test_queue_depth_and_alerts_are_read_from_redis(app, client):
    with app.app_context():
        queue.enqueue("postpay.credit.jobs.no_such_job", 1)
        app.extensions["redis"].lpush("alerts:payments", json.dumps({"kind": "MISMATCH"}))
    samples = scrape(client)
    assert value(samples, "postpay_queue_depth", queue="pushes") >= 1
    assert value(samples, "postpay_payment_alerts") == 1
    assert ("postpay_open_streams", ()) in samples
