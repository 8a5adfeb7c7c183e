"""Probe P4 (issue 9): HIS event -> SSE subscriber latency with 500 open live-accompany streams,
against gunicorn on PostgreSQL + Redis.

    DATABASE_URL=postgresql://postgres@127.0.0.1/bench REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/sse.py

500 streams (asyncio sockets in this process) on 10 visits; the HIS posts signed events, one at a
time, round the visits; each subscriber notes when the event's frame arrives. Latency = arrival -
the moment the HIS started its POST, on the same clock. It empties that database and Redis db.
"""

import asyncio
import datetime as dt
import json
import math
import os
import secrets
import statistics
import subprocess
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app import create_app  # noqa: E402
from bench.common import empty_schema, free_port, scratch_instance  # noqa: E402
from bench.outstanding import patient, wait_up  # noqa: E402
from postpay.accounts.models import User  # noqa: E402
from postpay.clock import utcnow  # noqa: E402
from postpay.extensions import db  # noqa: E402
from postpay.his.signing import sign  # noqa: E402
from postpay.hospitals.service import upsert_hospital  # noqa: E402
from postpay.security import new_token, token_digest  # noqa: E402
from postpay.visits.models import Visit  # noqa: E402

STREAMS = int(os.environ.get("BENCH_STREAMS", "500"))
VISITS = 10
EVENTS = int(os.environ.get("BENCH_EVENTS", "40"))
GAP = float(os.environ.get("BENCH_EVENT_GAP", "0.15"))
SECRET = "his-secret-bench"


def fill(app):
    with app.app_context():
        hospital = upsert_hospital("P4H", "压测医院", "1900007701", SECRET)[0]
        me = patient("伴诊老人", 5)
        user = User(openid="bench-p4", patient=me)
        db.session.add_all([me, user])
        db.session.flush()
        visits = []
        for n in range(VISITS):
            visit = Visit(
                hospital_id=hospital.id,
                his_visit_no="P4-%d" % n,
                patient_id=me.id,
                department="内科",
                doctor="王医生",
                registered_at=utcnow(),
                postpay=False,
            )
            db.session.add(visit)
            db.session.flush()
            visits.append((visit.id, visit.his_visit_no))
        db.session.commit()
        token = new_token()
        app.extensions["redis"].set("auth:token:" + token_digest(token), user.id, ex=7200)
        return token, visits


async def open_stream(port, token, visit_id):
    """A raw HTTP/1.1 connection asking for the visit's live events: ``(reader, writer)``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(
        (
            "GET /api/v1/visits/%s/events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n"
            "Authorization: Bearer %s\r\n\r\n" % (visit_id, token)
        ).encode()
    )
    await writer.drain()
    return reader, writer


async def subscriber(port, token, visit_id, ready, arrivals):
    reader, writer = await open_stream(port, token, visit_id)
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b"HTTP/1.1") and b" 200 " not in line:
                print("stream refused:", line, file=sys.stderr)
            if line.startswith(b"retry:"):
                ready.release()
            elif line.startswith(b"data: "):
                k = json.loads(line[6:])["detail"].get("k")
                if k is not None:
                    arrivals.append((k, time.perf_counter()))
    finally:
        writer.close()


def post_event(base, his_visit_no, k):
    path = "/his/v1/visits/%s/events" % his_visit_no
    at = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).isoformat()
    body = json.dumps({"type": "called", "at": at, "detail": {"k": k}}).encode()
    ts, nonce = str(int(time.time())), secrets.token_hex(12)
    headers = {
        "Content-Type": "application/json",
        "X-Hospital-Id": "P4H",
        "X-Timestamp": ts,
        "X-Nonce": nonce,
        "X-Signature": sign(SECRET, "POST", path, ts, nonce, body),
    }
    start = time.perf_counter()
    resp = requests.post(base + path, data=body, headers=headers, timeout=10)
    assert resp.status_code == 200, resp.text
    return start, time.perf_counter() - start


async def drive(port, token, visits):
    ready, arrivals = asyncio.Semaphore(0), []
    tasks = [
        asyncio.create_task(subscriber(port, token, visits[n % VISITS][0], ready, arrivals)) for n in range(STREAMS)
    ]
    opened = time.perf_counter()
    for _ in range(STREAMS):
        await asyncio.wait_for(ready.acquire(), 60)
    opened = time.perf_counter() - opened
    loop, sent, posts = asyncio.get_running_loop(), {}, []
    base = "http://127.0.0.1:%d" % port
    for k in range(EVENTS):
        start, took = await loop.run_in_executor(None, post_event, base, visits[k % VISITS][1], k)
        sent[k] = start
        posts.append(took)
        await asyncio.sleep(GAP)
    await asyncio.sleep(1)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = sorted((at - sent[k]) * 1000 for k, at in arrivals)
    return opened, latencies, posts


def run():
    """Returns a dict of figures."""
    # The probe's streams all come from one account: its limit of open streams (3 in
    # production, docs/security.md) is lifted here; each stream still claims its Redis slot.
    limit = str(STREAMS + 1)
    scratch_instance(
        POSTPAY_SSE_HEARTBEAT_SECONDS="30", POSTPAY_SSE_MAX_PER_ACCOUNT=limit, POSTPAY_SSE_MAX_PER_VISIT=limit
    )
    app = create_app()
    empty_schema(app)
    token, visits = fill(app)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
        # Threads per worker for every stream: the kernel does not spread connections evenly.
        env=dict(os.environ, PORT=str(port), GUNICORN_WORKERS="2", GUNICORN_THREADS=str(STREAMS + 16)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_up("http://127.0.0.1:%d/openapi.json" % port)
        opened, latencies, posts = asyncio.run(drive(port, token, visits))
    finally:
        server.terminate()
        server.wait(15)
    expected = sum(len(range(k % VISITS, STREAMS, VISITS)) for k in range(EVENTS))
    return {
        "streams": STREAMS,
        "events": EVENTS,
        "delivered": len(latencies),
        "expected": expected,
        "open_s": opened,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, math.ceil(len(latencies) * 0.99) - 1)],
        "max_ms": latencies[-1],
        "post_median_ms": statistics.median(posts) * 1000,
    }


def main():
    r = run()
    print("| probe | figure |\n|---|---|")
    print(
        "| HIS event -> SSE subscriber, %d open streams | p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d/%d frames) |"
        % (r["streams"], r["p50_ms"], r["p99_ms"], r["max_ms"], r["delivered"], r["expected"])
    )
    print("| HIS POST alone (median) | %.1f ms |" % r["post_median_ms"])


if __name__ == "__main__":
    main()
