"""Live accompany (云伴诊, R16): timeline, the SSE stream across workers, subscribe messages."""

import json
import threading

import pytest

from tests.conftest import bearer, run_jobs


@pytest.fixture
def family(person, bind, signed, his):
    elder_token, elder = person("o-a-elder", name="赵爷爷", birth="19440404")
    child_token, child = person("o-a-child", name="赵小华")
    assert signed(elder_token, elder["id"], "13588880001").status_code == 201
    bind(child_token, elder_token, elder, permissions=["accompany", "pay"])
    visit = his.visit("A1", elder, registered_at="2026-11-22T08:00:00+08:00")
    return {"elder": elder_token, "child": child_token, "visit": visit["visit_id"], "child_patient": child}


def test_timeline_is_ordered_by_when_things_happened_not_arrival_R16(client, his, family):
    his.event("A1", "called", at="2026-11-22T08:40:00+08:00")
    his.event("A1", "checked_in", at="2026-11-22T08:05:00+08:00")  # arrives late
    his.event("A1", "report_ready", at="2026-11-22T10:00:00+08:00", report="血常规")
    visit = client.get("/api/v1/visits/" + family["visit"], headers=bearer(family["child"])).get_json()["visit"]
    assert [e["type"] for e in visit["timeline"]] == ["checked_in", "called", "report_ready"]
    assert [e["id"] for e in visit["timeline"]] == [2, 1, 3]  # ids are arrival order, for Last-Event-ID
    assert visit["timeline"][2]["detail"] == {"report": "血常规"} and visit["timeline"][0]["at"].endswith("+08:00")


def read_events(resp, count):
    """Read ``count`` SSE events from a streamed response."""
    events, buffer = [], ""
    for chunk in resp.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            frame, buffer = buffer.split("\n\n", 1)
            data = [line[6:] for line in frame.split("\n") if line.startswith("data: ")]
            if data:
                events.append(json.loads(data[0]))
        if len(events) >= count:
            break
    resp.close()
    return events


def test_stream_replays_what_was_missed_then_goes_live_R16(app, client, his, family):
    app.config["POSTPAY_SSE_HEARTBEAT_SECONDS"] = 0.05
    app.config["POSTPAY_SSE_MAX_SECONDS"] = 10
    his.event("A1", "checked_in", at="2026-11-22T08:05:00+08:00")
    his.event("A1", "called", at="2026-11-22T08:40:00+08:00")
    url = "/api/v1/visits/%s/events" % family["visit"]
    resp = client.get(url, headers=bearer(family["child"]) | {"Last-Event-ID": "1"})
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    got = []

    def reader():
        got.extend(read_events(resp, 2))

    thread = threading.Thread(target=reader)
    thread.start()
    his.event("A1", "exam_done", at="2026-11-22T09:30:00+08:00", exam="心电图")  # from "another worker"
    thread.join(10)
    assert [(e["id"], e["type"]) for e in got] == [(2, "called"), (3, "exam_done")]


def test_subscribe_messages_go_to_patient_and_accompanying_relatives_once_R16(app, client, his, family, redis):
    child_openid, elder_openid = "o-a-child", "o-a-elder"
    for token, openid in ((family["child"], child_openid), (family["elder"], elder_openid)):
        client.post("/sandbox/wechat/subscriptions", json={"openid": openid, "template_id": "TPL_VISIT_CALLED"})
        resp = client.post("/api/v1/subscriptions", json={"template_ids": ["TPL_VISIT_CALLED"]}, headers=bearer(token))
        assert resp.get_json()["quotas"] == {"TPL_VISIT_CALLED": 1}
    his.event("A1", "called", at="2026-11-22T08:40:00+08:00")
    his.event("A1", "checked_in", at="2026-11-22T08:05:00+08:00")  # not a key event: no message
    assert client.get("/sandbox/wechat/messages?openid=" + child_openid).get_json()["messages"] == []  # not in request
    run_jobs(app)
    for openid in (child_openid, elder_openid):
        messages = client.get("/sandbox/wechat/messages?openid=" + openid).get_json()["messages"]
        assert [m["template_id"] for m in messages] == ["TPL_VISIT_CALLED"]
        assert "心内科" in messages[0]["data"]["thing2"]["value"]
    # The same job again (a retry, a second worker) sends nothing more.
    from postpay.queue import enqueue
    from postpay.visits.models import VisitEvent

    with app.app_context():
        event_id = VisitEvent.query.filter_by(type="called").one().id
        enqueue("postpay.visits.messages.send_event_messages", event_id)
    run_jobs(app)
    assert len(client.get("/sandbox/wechat/messages?openid=" + child_openid).get_json()["messages"]) == 1


def test_no_quota_no_message_and_43101_drops_a_stale_quota_R16(app, client, his, family):
    # The child reported a quota to us, but WeChat has none for it (refused later): 43101.
    client.post(
        "/api/v1/subscriptions", json={"template_ids": ["TPL_REPORT_READY", "UNKNOWN"]}, headers=bearer(family["child"])
    )
    his.event("A1", "report_ready", at="2026-11-22T10:00:00+08:00")
    run_jobs(app)
    assert client.get("/sandbox/wechat/messages?openid=o-a-child").get_json()["messages"] == []
    from postpay.extensions import db
    from postpay.visits.models import SubscriptionQuota

    with app.app_context():
        assert [q.remaining for q in db.session.query(SubscriptionQuota).all()] == [0]


def test_bill_due_message_goes_to_those_who_may_pay(app, client, his, family):
    client.post("/sandbox/wechat/subscriptions", json={"openid": "o-a-child", "template_id": "TPL_BILL_DUE"})
    client.post("/api/v1/subscriptions", json={"template_ids": ["TPL_BILL_DUE"]}, headers=bearer(family["child"]))
    his.items("A1", ("1", "lab", "血常规", 1, 2345))
    his.event("A1", "visit_finished", at="2026-11-22T11:00:00+08:00")
    run_jobs(app)
    messages = client.get("/sandbox/wechat/messages?openid=o-a-child").get_json()["messages"]
    assert [m["template_id"] for m in messages] == ["TPL_BILL_DUE"]
    assert messages[0]["data"]["amount2"]["value"] == "23.45元"


def test_long_names_are_cut_to_what_wechat_takes_R16(app, client, his, person, signed):
    """WeChat refuses a ``thing`` over 20 characters: our messages cut the name, never the news."""
    from postpay.extensions import db
    from postpay.hospitals.service import upsert_hospital

    with app.app_context():
        upsert_hospital("NT01", "南通大学附属医院南通市第一人民医院东院区门诊部", "1900000109", "his-secret-nt01")
        db.session.commit()
    token, patient = person("o-long", name="钱多多")
    assert signed(token, patient["id"], "13588880002").status_code == 201
    client.post("/sandbox/wechat/subscriptions", json={"openid": "o-long", "template_id": "TPL_VISIT_CALLED"})
    client.post("/api/v1/subscriptions", json={"template_ids": ["TPL_VISIT_CALLED"]}, headers=bearer(token))
    his.visit("A2", patient, department="心血管内科介入治疗中心第二病区门诊")
    his.event("A2", "called", at="2026-11-22T08:40:00+08:00")
    run_jobs(app)
    data = client.get("/sandbox/wechat/messages?openid=o-long").get_json()["messages"][0]["data"]
    assert data["thing1"]["value"] == "南通大学附属医院南通市第一人民医院东院…"
    assert data["thing2"]["value"] == "心血管内科介入治疗中心第… 请到诊室就诊"
    assert data["time3"]["value"] == "2026-11-22 08:40"
