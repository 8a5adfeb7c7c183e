"""Live streams at scale (R16): one Redis subscription per process and visit, however many
streams watch it, and a heartbeat that runs the full access check only when something that
can end access changed, yet still ends a revoked stream within one heartbeat."""

import shutil
import threading
import time

import pytest
from sqlalchemy import event

from postpay.accounts.service import TOKEN_KEY
from postpay.extensions import db
from postpay.security import token_digest
from postpay.visits import hub as hubs
from postpay.visits.hub import hub
from tests.conftest import bearer
from tests.visits import test_streams
from tests.visits.test_streams import frames

HEARTBEAT = 0.4
#: One heartbeat, plus the keeper's tick (a quarter heartbeat) and time to run the check.
WITHIN = HEARTBEAT * 1.25 + 0.35

family = test_streams.family  # the elder, the child with accompany, visit S1


@pytest.fixture
def config(config):
    return config | {"POSTPAY_SSE_HEARTBEAT_SECONDS": HEARTBEAT, "POSTPAY_SSE_MAX_SECONDS": 20}


def open_stream(client, family, who="child"):
    resp = client.get("/api/v1/visits/%s/events" % family["visit"], headers=bearer(family[who]))
    assert resp.status_code == 200
    return resp


class Reader:
    """Reads a stream on a thread, noting when each frame arrived."""

    def __init__(self, resp):
        self.resp, self.got = resp, []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for name, data in frames(self.resp.response):
            self.got.append((time.monotonic(), name, data))

    def wait(self, seconds=10):
        self.thread.join(seconds)
        return self.got


def numsub(redis, channel):
    return dict(redis.pubsub_numsub(channel)).get(channel.encode(), 0)


def test_two_streams_on_one_visit_share_one_subscription_and_the_last_out_unsubscribes_R16(app, client, his, family):
    channel = "visit:%s" % family["visit"]
    redis = app.extensions["redis"]
    first, second = open_stream(client, family), open_stream(client, family, "elder")
    assert next(first.response) == next(second.response) == b"retry: 3000\n\n"  # both streams running
    assert hub(app).subscribed() == {channel}
    assert numsub(redis, channel) == 1  # one connection of this process, not one per stream

    his.event("S1", "called", room="3诊室")
    got = []
    for resp in (first, second):
        got.append(next(frames(resp.response)))
    assert got == [("called", got[0][1])] * 2 and got[0][1]["detail"] == {"room": "3诊室"}

    first.close()  # one stream ends: the other still watches the visit
    assert hub(app).subscribed() == {channel}
    assert numsub(redis, channel) == 1
    second.close()  # the last one out unsubscribes
    assert hub(app).subscribed() == set()
    deadline = time.monotonic() + 5
    while numsub(redis, channel):
        assert time.monotonic() < deadline, "the visit's channel is still subscribed"
        time.sleep(0.05)
    # And both slots were given back at once.
    assert redis.zcard("sse:{%s}" % family_user(app, family["child"])) == 0


def family_user(app, token):
    """The account id the bearer token stands for (the token's value is "<user id> <app>")."""
    return app.extensions["redis"].get(TOKEN_KEY % token_digest(token)).decode().split()[0]


def test_idle_heartbeats_keep_the_slot_without_a_database_query_R16(app, client, family):
    """The cheap path: nothing changed, so no full check (no SQL), but the slot stays claimed
    well past its lapse time (three heartbeats and a second)."""
    redis = app.extensions["redis"]
    resp = open_stream(client, family)
    reader = Reader(resp)
    time.sleep(HEARTBEAT)  # the stream's own opening queries are done
    statements = []

    def count(*_args):
        statements.append(1)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        time.sleep(HEARTBEAT * 3 + 1.5)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []
    key = "sse:{%s}" % family_user(app, family["child"])
    assert redis.zcard(key) == 1 and redis.zrange(key, 0, -1, withscores=True)[0][1] > time.time()
    assert client.post("/api/v1/auth/logout", headers=bearer(family["child"])).status_code == 204
    assert [name for _, name, _ in reader.wait()] == ["revoked"]


def test_logout_ends_the_stream_within_one_heartbeat_R16(client, family):
    reader = Reader(open_stream(client, family))
    time.sleep(HEARTBEAT * 1.5)
    done = time.monotonic()
    assert client.post("/api/v1/auth/logout", headers=bearer(family["child"])).status_code == 204
    at, name, data = reader.wait()[-1]
    assert (name, data["reason"]) == ("revoked", "UNAUTHORIZED")
    assert at - done < WITHIN


def test_an_expired_token_ends_the_stream_within_one_heartbeat_R16(app, client, family):
    reader = Reader(open_stream(client, family))
    time.sleep(HEARTBEAT * 1.5)
    done = time.monotonic()
    app.extensions["redis"].pexpire(TOKEN_KEY % token_digest(family["child"]), 1)  # its TTL runs out
    at, name, data = reader.wait()[-1]
    assert (name, data["reason"]) == ("revoked", "UNAUTHORIZED")
    assert at - done < WITHIN


def test_a_revoked_binding_ends_the_stream_within_one_heartbeat_R16(client, family):
    reader = Reader(open_stream(client, family))
    time.sleep(HEARTBEAT * 1.5)
    done = time.monotonic()
    gone = client.delete("/api/v1/family/bindings/" + family["binding"], headers=bearer(family["elder"]))
    assert gone.status_code == 204
    at, name, data = reader.wait()[-1]
    assert (name, data["reason"]) == ("revoked", "NOT_FOUND")
    assert at - done < WITHIN


def test_sharing_sensitive_items_reaches_an_open_stream_within_one_heartbeat_R19(app, client, his, family):
    """Not a revocation, but the same full check: the relative's stream shows a sensitive
    event in full once the patient shares, from the next heartbeat on."""
    resp = open_stream(client, family)
    reader = Reader(resp)
    his.event("S1", "report_ready", report="梅毒螺旋体抗体")
    url = "/api/v1/family/bindings/" + family["binding"]
    assert client.patch(url, json={"share_sensitive": True}, headers=bearer(family["elder"])).status_code == 200
    time.sleep(WITHIN)
    his.event("S1", "report_ready", report="梅毒螺旋体抗体")
    deadline = time.monotonic() + 5
    while len(reader.got) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    before, after = [data["detail"] for _, _, data in reader.got[:2]]
    assert before == {"name": "隐私项目"} and after == {"report": "梅毒螺旋体抗体"}


def test_a_stream_that_stops_reading_loses_its_slot_R16(client, family):
    """A stream read once and then stalled (its client stopped reading) is not claimed for by
    the hub: its slot lapses and the account may open another stream."""
    stalled = [open_stream(client, family) for _ in range(3)]
    for resp in stalled:  # read up to the first keep-alive: the stream is past its replay, then stalls
        assert next(resp.response) == b"retry: 3000\n\n"
        assert next(resp.response) == b": keep-alive\n\n"
    url = "/api/v1/visits/%s/events" % family["visit"]
    assert client.get(url, headers=bearer(family["child"])).status_code == 429
    deadline = time.monotonic() + 10
    while (again := client.get(url, headers=bearer(family["child"]))).status_code == 429:
        assert time.monotonic() < deadline, "the stalled streams' slots never lapsed"
        time.sleep(HEARTBEAT)
    again.close()
    for resp in stalled:
        resp.close()


@pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")
def test_streams_end_when_the_hubs_connection_was_lost_and_resume_with_last_event_id_R16(
    own_redis, app, client, his, family
):
    """Events published while the hub's pub/sub connection was down are lost to it: its
    streams end, and a client resuming with Last-Event-ID gets them from the database."""
    user_id = family_user(app, family["child"])
    reader = Reader(open_stream(client, family))
    his.event("S1", "called", room="1诊室")
    deadline = time.monotonic() + 5
    while not reader.got and time.monotonic() < deadline:
        time.sleep(0.05)
    own_redis.stop()
    own_redis.start()  # an empty Redis again: tokens and slots are gone, the events are in the database
    app.extensions["redis"].set(TOKEN_KEY % token_digest(family["child"]), user_id + " mini")  # logged in again
    assert reader.wait() and reader.got[-1][1] == "called"  # it ended, after its one event
    his.event("S1", "report_ready")
    last = reader.got[-1][2]["id"]
    again = client.get(
        "/api/v1/visits/%s/events" % family["visit"], headers=bearer(family["child"]) | {"Last-Event-ID": str(last)}
    )
    assert again.status_code == 200
    assert next(frames(again.response))[0] == "report_ready"
    again.close()


def test_a_heartbeat_round_in_several_pipelines_keeps_every_slot_and_still_revokes_R16(
    app, client, family, monkeypatch
):
    """The keeper sends the streams due in batches (a worker's other requests run between
    them): with one stream per batch, both streams keep their slots past their lapse time, and
    the one whose account logged out is still revoked within one heartbeat."""
    monkeypatch.setattr(hubs, "BEAT_BATCH", 1)
    redis = app.extensions["redis"]
    child, elder = Reader(open_stream(client, family)), Reader(open_stream(client, family, "elder"))
    time.sleep(HEARTBEAT * 3 + 1.5)
    for who in ("child", "elder"):
        key = "sse:{%s}" % family_user(app, family[who])
        assert redis.zcard(key) == 1 and redis.zrange(key, 0, -1, withscores=True)[0][1] > time.time()
    done = time.monotonic()
    assert client.post("/api/v1/auth/logout", headers=bearer(family["child"])).status_code == 204
    at, name, _ = child.wait()[-1]
    assert name == "revoked" and at - done < WITHIN
    assert elder.got == []  # still open, nothing to say
    assert client.post("/api/v1/auth/logout", headers=bearer(family["elder"])).status_code == 204
    assert [name for _, name, _ in elder.wait()] == ["revoked"]
