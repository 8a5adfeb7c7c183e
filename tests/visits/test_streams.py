"""The live stream is safe by default (R16): a few streams per account, and access that
ends (binding revoked, logout) ends the stream already open."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import SignedCaller, bearer

HEARTBEAT = 0.2


@pytest.fixture
def config(config):
    return config | {"POSTPAY_SSE_HEARTBEAT_SECONDS": HEARTBEAT, "POSTPAY_SSE_MAX_SECONDS": 20}


@pytest.fixture
def family(person, bind, signed, his):
    elder_token, elder = person("o-s-elder", name="钱爷爷", birth="19440404")
    child_token, _ = person("o-s-child", name="钱小华")
    assert signed(elder_token, elder["id"], "13588880002").status_code == 201
    binding = bind(child_token, elder_token, elder, permissions=["accompany", "pay"])
    visit = his.visit("S1", elder, registered_at="2026-11-22T08:00:00+08:00")
    return {"elder": elder_token, "child": child_token, "visit": visit["visit_id"], "binding": binding}


def frames(chunks):
    """(event, data) of each SSE frame in an iterable of chunks; comments are skipped."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            frame, buffer = buffer.split("\n\n", 1)
            fields = dict(line.split(": ", 1) for line in frame.split("\n") if not line.startswith(":"))
            if "data" in fields:
                yield fields.get("event", "message"), json.loads(fields["data"])


def collect(resp, seconds=10):
    """Read the streamed answer on a thread until it ends; the list fills as frames come."""
    got = []
    thread = threading.Thread(target=lambda: got.extend(frames(resp.response)), daemon=True)
    thread.start()
    return got, lambda: thread.join(seconds)


def test_more_streams_than_the_limit_get_429_and_his_still_answers(app, family):
    live = app.config["LIVE_URL"]
    url = "%s/api/v1/visits/%s/events" % (live, family["visit"])

    def open_stream(_):
        return requests.get(url, headers=bearer(family["child"]), stream=True, timeout=10)

    with ThreadPoolExecutor(10) as pool:  # ten at once: the count is atomic
        answers = list(pool.map(open_stream, range(10)))
    opened = [r for r in answers if r.status_code == 200]
    refused = [r for r in answers if r.status_code != 200]
    assert len(opened) == 3 and {r.status_code for r in refused} == {429}
    assert refused[0].json()["error"]["code"] == "TOO_MANY_STREAMS"
    assert "实时页面过多" in refused[0].json()["error"]["message"]

    # The HIS is still served while the streams are open, and they carry its event.
    path, body = "/his/v1/visits/S1/events", json.dumps({"type": "called", "at": "2026-11-22T08:40:00+08:00"})
    signer = SignedCaller(None, "X-Hospital-Id", "NT01", "his-secret-nt01")
    headers = signer.headers("POST", path, body.encode()) | {"Content-Type": "application/json"}
    assert requests.post(live + path, data=body.encode(), headers=headers, timeout=5).status_code == 200
    first = next(frames(opened[0].iter_content(chunk_size=None)))
    assert first[0] == "called"

    # A closed stream gives its slot back (noticed at its next heartbeat).
    opened.pop().close()
    deadline = time.monotonic() + 5
    while (again := open_stream(0)).status_code == 429 and time.monotonic() < deadline:
        time.sleep(HEARTBEAT)
    assert again.status_code == 200
    for r in [*opened, again, *refused]:
        r.close()


def test_slot_of_a_stream_that_stopped_refreshing_is_freed(client, family):
    """Streams whose worker hangs or dies stop refreshing their slot: it lapses, and a new stream opens."""
    url = "/api/v1/visits/%s/events" % family["visit"]
    stuck = [client.get(url, headers=bearer(family["child"])) for _ in range(3)]  # never read again
    assert [r.status_code for r in stuck] == [200, 200, 200]
    refused = client.get(url, headers=bearer(family["child"]))
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "TOO_MANY_STREAMS"
    deadline = time.monotonic() + 10
    while (again := client.get(url, headers=bearer(family["child"]))).status_code == 429:
        assert time.monotonic() < deadline, "the stuck streams' slots never lapsed"
        time.sleep(HEARTBEAT)
    assert again.status_code == 200
    again.close()
    assert len(stuck) == 3  # held until here, so nothing released them


def test_stream_ends_with_revoked_when_the_elder_revokes_the_binding_R16(client, family):
    resp = client.get("/api/v1/visits/%s/events" % family["visit"], headers=bearer(family["child"]))
    assert resp.status_code == 200
    got, wait = collect(resp)
    time.sleep(HEARTBEAT)
    gone = client.delete("/api/v1/family/bindings/" + family["binding"], headers=bearer(family["elder"]))
    assert gone.status_code == 204
    wait()
    assert got and got[-1][0] == "revoked" and got[-1][1]["reason"] == "NOT_FOUND"


def test_stream_ends_with_revoked_after_logout_R16(client, family):
    resp = client.get("/api/v1/visits/%s/events" % family["visit"], headers=bearer(family["child"]))
    got, wait = collect(resp)
    time.sleep(HEARTBEAT)
    assert client.post("/api/v1/auth/logout", headers=bearer(family["child"])).status_code == 204
    wait()
    assert got and got[-1] == ("revoked", {"reason": "UNAUTHORIZED", "message": "登录已过期或无效，请重新登录"})


def test_non_ascii_digit_last_event_id_replays_everything(client, his, family):
    his.event("S1", "checked_in", at="2026-11-22T08:05:00+08:00")
    url = "/api/v1/visits/%s/events" % family["visit"]
    resp = client.get(url, headers=bearer(family["child"]) | {"Last-Event-ID": "²"})  # "²".isdigit() is True
    assert resp.status_code == 200
    first = next(frames(resp.response))
    resp.close()
    assert first[0] == "checked_in"
