"""Probe P4' (issue 21): 10,000 open live streams on one 2-core instance (gunicorn, gevent, 2
workers) on PostgreSQL + Redis.

    DATABASE_URL=postgresql://postgres@127.0.0.1/bench REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/sse10k.py [one|split]

Seeded directly (it is a bench): 5,000 patients with a visit each, their own accounts and one
relative's account each (an active binding with ``accompany``), 10,000 bearer tokens. Each
account opens one stream on its visit: the patient and one relative watching, 10,000 streams
(asyncio sockets in this process), 2 per visit channel.

In the same run:
1. with no stream open: HIS event POSTs and WeChat Pay notifications, taking turns, one at a
   time (their p99 = the baseline), and the workers' RSS;
2. the 10,000 streams opened (256 at a time), the workers' RSS again (memory per stream);
3. the same HIS POSTs and notifications with the streams open, every event's frame timed at
   its subscribers (event -> frame = arrival - the moment its POST started, one clock).
It empties that database and Redis db.

Two layouts of the one instance (``run(layout)``):
- ``one``: one gunicorn (gevent, 2 workers) serves the streams, HIS and notifications;
- ``split``: the same code as two gunicorns on the same 2 cores, as docs/operations.md ("Live
  streams") lays it out: the streams on a gevent one (2 workers), HIS and notifications on a
  gthread one (2 workers), so the kernel, not one event loop, shares the cores between them.
"""

import asyncio
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import (  # noqa: E402
    empty_schema,
    gunicorn,
    p99,
    partner_transaction,
    redis_clients,
    scratch_instance,
    workers_rss,
)
from bench.notify import pending_payments  # noqa: E402
from bench.outstanding import wait_up  # noqa: E402
from bench.sse import SECRET, open_stream, post_event  # noqa: E402
from postpay.accounts.models import Patient, User  # noqa: E402
from postpay.clock import utcnow  # noqa: E402
from postpay.extensions import db  # noqa: E402
from postpay.family.models import Binding, BindingStatus  # noqa: E402
from postpay.hospitals.service import upsert_hospital  # noqa: E402
from postpay.security import new_id, new_token, token_digest  # noqa: E402
from postpay.visits.models import Visit  # noqa: E402

STREAMS = int(os.environ.get("BENCH_STREAMS", "10000"))
VISITS = STREAMS // 2
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "150"))  # HIS POSTs and notifications per phase
GAP = float(os.environ.get("BENCH_EVENT_GAP", "0.04"))
WARM = 10  # HIS POSTs and notifications first, not counted (connections, caches)
OPENING = 64  # opens at a time (each is an authorized request with its queries)
MAX_SECONDS = int(os.environ.get("BENCH_SSE_MAX_SECONDS", "3600"))


def fill(app):
    """The visits, accounts, bindings and tokens; ([(visit_id, his_no)], [(token, visit_id)])."""
    now = utcnow()
    with app.app_context():
        hospital = upsert_hospital("P4H", "压测医院", "1900007701", SECRET)[0]
        patients, users, bindings, visits, streams = [], [], [], [], []
        for n in range(VISITS):
            pid, self_id, relative_id = new_id("pt"), new_id("us"), new_id("us")
            patients.append(
                dict(
                    id=pid,
                    name="伴诊%d" % n,
                    id_number="32060219500101%04d" % n,
                    id_number_index="bench-p4b-%d" % n,
                    birth_date=dt.date(1950, 1, 1),
                    sex="F",
                    verified_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
            users.append(dict(id=self_id, openid="p4b-self-%d" % n, patient_id=pid, created_at=now))
            users.append(dict(id=relative_id, openid="p4b-rel-%d" % n, created_at=now))
            bindings.append(
                dict(
                    id=new_id("fb"),
                    user_id=relative_id,
                    relative_patient_id=pid,
                    relationship="parent",
                    permissions=["view", "accompany"],
                    status=BindingStatus.active,
                    created_at=now,
                    consented_at=now,
                )
            )
            vid = new_id("vs")
            visits.append(
                dict(
                    id=vid,
                    hospital_id=hospital.id,
                    his_visit_no="P4B-%d" % n,
                    patient_id=pid,
                    department="内科",
                    doctor="王医生",
                    registered_at=now,
                    postpay=False,
                )
            )
            streams += [(self_id, vid), (relative_id, vid)]
        for model, rows in ((Patient, patients), (User, users), (Binding, bindings), (Visit, visits)):
            for k in range(0, len(rows), 2000):
                db.session.execute(db.insert(model), rows[k : k + 2000])
        db.session.commit()
        hospital_id, mchid = hospital.id, hospital.mchid
        redis = app.extensions["redis"]
        pipe, tokens = redis.pipeline(transaction=False), []
        for user_id, vid in streams:
            token = new_token()
            pipe.set("auth:token:" + token_digest(token), user_id, ex=7200)
            tokens.append((token, vid))
        pipe.execute()
        numbers = pending_payments(app, WARM + 2 * ROUNDS, mchid, hospital_id)
    # Signed when sent (WeChat Pay's signature carries a time the service checks): one phase at a time.
    return [(v["id"], v["his_visit_no"]) for v in visits], tokens, lambda a, b: signed(app, numbers, a, b, mchid)


async def subscriber(port, token, visit_id, opened, arrivals, refused):
    """One stream, as the mini-program holds it: opened again after a refusal (a second later,
    at most 5 times); sets ``opened`` once it streams or gave up; notes each frame's arrival."""
    for _attempt in range(5):
        reader, writer = await open_stream(port, token, visit_id)
        try:
            status = await reader.readline()
            if b" 200 " not in status:
                refused.append(status.split(b" ", 2)[1].decode() if status else "closed")
                await asyncio.sleep(1)
                continue
            while True:
                line = await reader.readline()
                if not line:
                    return
                if line.startswith(b"retry:"):
                    opened.set()
                elif line.startswith(b"data: "):
                    k = json.loads(line[6:]).get("detail", {}).get("k")
                    if k is not None:
                        arrivals.append((k, time.perf_counter()))
        finally:
            writer.close()
    opened.set()


def signed(app, numbers, a, b, mchid):
    """Notifications of payments a..b-1, signed now."""
    from wechat.sandbox.pay_notify import notification

    out = []
    with app.test_request_context():
        for k in range(a, b):
            tx = partner_transaction(app, mchid, numbers[k], "4200%018d" % k, 3000)
            out.append(notification("TRANSACTION.SUCCESS", "支付成功", "transaction", tx))
    return out


def notify(base, delivery):
    headers, body = delivery
    start = time.perf_counter()
    resp = requests.post(base + "/wechat/pay/notify", data=body.encode(), headers=headers, timeout=10)
    assert resp.status_code in (200, 204), resp.text
    return time.perf_counter() - start


async def phase(base, visits, signed, offset, sent, rounds=ROUNDS):
    """HIS events and notifications taking turns; (HIS POST seconds, notification seconds)."""
    loop, posts, notes = asyncio.get_running_loop(), [], []
    notifications = dict(enumerate(signed(offset, offset + rounds), offset))
    for k in range(rounds):
        his_no = visits[(offset + k * 37) % len(visits)][1]
        start, took = await loop.run_in_executor(None, post_event, base, his_no, offset + k)
        sent[offset + k] = (start, his_no)
        posts.append(took)
        await asyncio.sleep(GAP)
        notes.append(await loop.run_in_executor(None, notify, base, notifications[offset + k]))
        await asyncio.sleep(GAP)
    return posts, notes


async def drive(port, api_port, master, visits, tokens, notifications):
    """Streams on ``port`` (gunicorn ``master``), HIS and notifications on ``api_port``."""
    base, sent = "http://127.0.0.1:%d" % api_port, {}
    await phase(base, visits, notifications, 0, sent, WARM)
    idle_posts, idle_notes = await phase(base, visits, notifications, WARM, sent)
    rss_before = workers_rss(master)
    arrivals, refused, gate = [], [], asyncio.Semaphore(OPENING)

    async def one(token, vid):
        async with gate:
            opened = asyncio.Event()
            task = asyncio.create_task(subscriber(port, token, vid, opened, arrivals, refused))
            await opened.wait()
            return task

    opened = time.perf_counter()
    tasks = await asyncio.gather(*(one(t, v) for t, v in tokens))
    opened = time.perf_counter() - opened
    await asyncio.sleep(5)  # settle: the keep-alives and first heartbeats of the last streams
    rss_after = workers_rss(master)
    streaming = sum(1 for t in tasks if not t.done())
    live_posts, live_notes = await phase(base, visits, notifications, WARM + ROUNDS, sent)
    await asyncio.sleep(1)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = sorted((at - sent[k][0]) * 1000 for k, at in arrivals if k >= WARM + ROUNDS)
    return {
        "open_s": opened,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "idle": (idle_posts, idle_notes),
        "live": (live_posts, live_notes),
        "latencies": latencies,
        "streaming": streaming,
        "refused": refused,
    }


def run(layout="one"):
    """Returns a dict of figures."""
    from app import create_app

    # Streams live for the whole probe: at the default 300 s the first ones would end (and their
    # clients reconnect, 33 opens/s at 10,000 streams) before the last opened on a busy machine.
    scratch_instance(POSTPAY_SANDBOX="1", POSTPAY_SSE_MAX_SECONDS=str(MAX_SECONDS))
    app = create_app()
    empty_schema(app)
    visits, tokens, notifications = fill(app)
    clients_before = redis_clients(app)
    log = os.environ.get("BENCH_SERVER_LOG")
    servers = [gunicorn(os.environ, open(log, "w") if log else subprocess.DEVNULL, GUNICORN_WORKER_CLASS="gevent")]
    if layout == "split":
        api_log = open(log + ".api", "w") if log else subprocess.DEVNULL
        servers.append(gunicorn(os.environ, api_log, GUNICORN_WORKER_CLASS="gthread", GUNICORN_THREADS="16"))
    (stream_server, stream_url), (_, api_url) = servers[0], servers[-1]
    try:
        for _, url in servers:
            wait_up(url + "/openapi.json")
        port, api_port = (int(url.rsplit(":", 1)[1]) for url in (stream_url, api_url))
        r = asyncio.run(drive(port, api_port, stream_server.pid, visits, tokens, notifications))
        clients_open = redis_clients(app)
    finally:
        for server, _ in servers:
            server.terminate()
        for server, _ in servers:
            server.wait(30)
    lat = r["latencies"]
    idle_post, idle_note = (p99(x) * 1000 for x in r["idle"])
    live_post, live_note = (p99(x) * 1000 for x in r["live"])
    return {
        "layout": layout,
        "streams": r["streaming"],
        "refused_then_retried": len(r["refused"]),
        "refusals": sorted(set(r["refused"])),
        "open_s": r["open_s"],
        "frames": len(lat),
        "expected": 2 * ROUNDS,  # each event's visit is watched by its patient and one relative
        "p50_ms": statistics.median(lat),
        "p99_ms": p99(lat),
        "max_ms": lat[-1],
        "post_p99_idle_ms": idle_post,
        "post_p99_open_ms": live_post,
        "post_ratio": live_post / idle_post,
        "notify_p99_idle_ms": idle_note,
        "notify_p99_open_ms": live_note,
        "notify_ratio": live_note / idle_note,
        "kib_per_stream": (r["rss_after"] - r["rss_before"]) / max(r["streaming"], 1) / 1024,
        "rss_before_mib": r["rss_before"] / 2**20,
        "rss_after_mib": r["rss_after"] / 2**20,
        "redis_clients_added": clients_open - clients_before,
    }


def main():
    r = run(sys.argv[1] if len(sys.argv) > 1 else "one")
    for key, value in r.items():
        print("%-22s %s" % (key, round(value, 2) if isinstance(value, float) else value))


if __name__ == "__main__":
    main()
