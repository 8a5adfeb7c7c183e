"""P6 (issue 21): set up a city, start two gunicorn instances and a job worker on PostgreSQL +
Redis, replay the peak hour with locust at a few multiples, then the full run, then check the ledger.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postpay_cityday REDIS_URL=redis://127.0.0.1:6379/12 \\
        .venv/bin/python bench/cityday/drive.py [--multiples 1 2 3 4] [--step-seconds 120] \\
        [--multiple 2] [--seconds 600] [--processes 1] [--out result.json]

It empties that database and Redis db. ``bench/run.py --only p6`` runs it on a scratch database.
"""

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from app import create_app  # noqa: E402
from bench.cityday import ledger, model, report, seed  # noqa: E402
from bench.cityday.figures import summary  # noqa: E402
from bench.cityday.procs import cpu_seconds, machine_busy, profile, servers, sweep_twice  # noqa: E402
from bench.common import empty_schema, scratch_instance  # noqa: E402

#: The service's own heartbeat: under gevent (gunicorn.conf.py) an open stream costs a greenlet,
#: not a thread; the thread count below matters only with GUNICORN_WORKER_CLASS=gthread.
HEARTBEAT = 15
LOCUSTFILE = os.path.join(ROOT, "bench", "cityday", "locustfile.py")
BIN = os.path.dirname(sys.executable)


def quiet_hours_elsewhere():
    """The run may fall in the night's quiet hours (21:00-08:00 Shanghai), when the reminder sweep
    sends nothing (R17) and the overdue bills' reminders would never go out during the run: the
    bench moves the quiet hours to a minute half a day away."""
    import datetime as dt

    start = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(hours=12)
    return "%s-%s" % (start.strftime("%H:%M"), (start + dt.timedelta(minutes=1)).strftime("%H:%M"))


def queued(app):
    r = app.extensions["redis"]
    return sum(r.llen(k) for k in r.keys("rq:queue:*"))


def drain(app, most=300):
    """Jobs still queued when the load stopped, and the seconds the worker took to empty the queues
    (None: not empty after ``most`` seconds)."""
    backlog, start = queued(app), time.monotonic()
    while queued(app):
        if time.monotonic() - start > most:
            return backlog, None
        time.sleep(2)
    time.sleep(3)  # the last job under way
    return backlog, round(time.monotonic() - start, 1)


def step(env, urls, stream_urls, city, multiple, seconds, processes, run, slot_start, server_pids):
    """One locust run at ``multiple`` x the peak hour; its classes, and CPU figures."""
    out = tempfile.mktemp(prefix="cityday-", suffix=".json")
    e = dict(
        env,
        CITYDAY_CITY=city,
        CITYDAY_MULTIPLE=str(multiple),
        CITYDAY_OUT=out,
        CITYDAY_RUN=run,
        CITYDAY_SLOT_START=str(slot_start),
        CITYDAY_PROCESSES=str(processes),
        CITYDAY_SECONDS=str(seconds),
        CITYDAY_STREAM_HOSTS=",".join(stream_urls),
    )
    cmd = [os.path.join(BIN, "locust"), "-f", LOCUSTFILE, "--headless", "--only-summary", "--host", ",".join(urls)]
    cmd += ["-u", str(processes), "-r", str(processes), "-t", "%ds" % (seconds + 90), "--stop-timeout", "40"]
    if processes > 1:
        cmd += ["--processes", str(processes)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    served0, (busy0, all0) = cpu_seconds(server_pids), machine_busy()
    started = time.monotonic()
    spy = profile(server_pids[0], min(60, seconds))
    sweeps = sweep_twice(env)
    with open(os.path.join(env["POSTPAY_INSTANCE_PATH"], "locust-%s.log" % run), "w") as log:
        done = subprocess.run(cmd, env=e, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    for p in ([spy] if spy else []) + sweeps:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1, all1 = machine_busy()
    try:
        with open(out, encoding="utf-8") as f:
            classes = json.load(f)
    except OSError:
        sys.exit("locust wrote no figures (exit %d): see %s" % (done.returncode, log.name))
    os.remove(out)
    locust_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "multiple": multiple,
        "seconds": seconds,
        "visits_per_s": model.visits_per_second(multiple),
        "open_streams_client": model.open_streams(multiple),
        "classes": classes,
        "locust_cpu_cores": locust_cpu / wall,
        "servers_cpu_cores": (cpu_seconds(server_pids) - served0) / wall,
        "machine_busy": (busy1 - busy0) / max(all1 - all0, 1),
        "met": met(classes),
    }


def met(classes):
    return all(
        classes[k]["failures"] == 0 and (classes[k]["p99_ms"] is None or classes[k]["p99_ms"] < 300)
        for k in report.CLASSES
    )


def run(
    multiples=(1, 2, 3, 4),
    step_seconds=120,
    multiple=2,
    seconds=600,
    processes=1,
    visit_seconds=None,
    keep_going=False,
    layout="split",
):
    """The search steps (stopping at the first missed, unless ``keep_going``), the full run, the ledger check."""
    visit_seconds = visit_seconds or model.VISIT_SECONDS
    steps = [(m, step_seconds) for m in multiples] + ([(multiple, seconds)] if seconds else [])
    most = max(m for m, _ in steps)
    scratch_instance(
        POSTPAY_SSE_HEARTBEAT_SECONDS=str(HEARTBEAT),
        CITYDAY_VISIT_SECONDS=str(visit_seconds),
        POSTPAY_QUIET_HOURS=quiet_hours_elsewhere(),
    )
    env = dict(os.environ)
    env["CITYDAY_NOTIFIED"] = os.path.join(env["POSTPAY_INSTANCE_PATH"], "notified.txt")
    open(env["CITYDAY_NOTIFIED"], "w").close()
    app = create_app()
    empty_schema(app)
    procs, urls, stream_urls = servers(env, layout)
    pids = [p.pid for p in procs]
    try:
        os.environ["PORT"] = urls[0].rsplit(":", 1)[1]  # the seeding's sandbox calls go to instance A
        app = create_app()
        hospitals = seed.hospitals(app)
        # Each (patient, hospital) visited once; a patient again only after 150 s, so that its
        # account's stream limit (3, docs/security.md) holds even when visits run slow.
        count = max(model.visits_needed(steps) // model.HOSPITALS, int(model.visits_per_second(most) * 150), 200)
        patients = seed.patients(app, count)
        seed.overdue(app, [h["code"] for h in hospitals], 100)
        city = os.path.join(env["POSTPAY_INSTANCE_PATH"], "city.json")
        seed.write(city, {"hospitals": hospitals, "patients": patients})
        results, slot = [], 0
        for n, (m, s) in enumerate(steps):
            if n < len(multiples) and results and not results[-1]["met"] and not keep_going:
                continue  # a higher multiple cannot pass where a lower one missed
            print("   p6 step %d/%d: %gx the peak hour for %d s" % (n + 1, len(steps), m, s), flush=True)
            r = step(env, urls, stream_urls, city, m, s, processes, "S%d" % n, slot, pids)
            slot += int(model.visits_per_second(m) * (s + 45)) + 100
            results.append(r)
            print("     " + summary(r), flush=True)
        backlog, drained = drain(app)  # the job worker's queues: pushes, refunds asked of WeChat
        settled = ledger.settle_refunds(app)
        time.sleep(5)
        with open(env["CITYDAY_NOTIFIED"]) as f:
            check = ledger.check(app, f.read().split(), client=True)
        check["refunds_settled_after_the_run"] = settled
        check["jobs_queued_at_the_end"], check["jobs_drained_in_s"] = backlog, drained
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
    search = results[:-1] if seconds else results
    passed = [r["multiple"] for r in search if r["met"]]
    best = 0
    for r in sorted(search, key=lambda r: r["multiple"]):
        if not r["met"]:
            break
        best = r["multiple"]
    return {
        "layout": layout,
        "heartbeat_s": HEARTBEAT,
        "visit_seconds": visit_seconds,
        "patients": len(patients),
        "steps": results,
        "search_passed": passed,
        "largest_multiple": best,
        "full": results[-1],
        "ledger": check,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--multiples", nargs="*", type=float, default=[1, 2, 3, 4])
    parser.add_argument("--step-seconds", type=int, default=120)
    parser.add_argument("--multiple", type=float, default=2)
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--processes", type=int, default=1, help="locust processes (1 or 2)")
    parser.add_argument("--visit-seconds", type=float, default=model.VISIT_SECONDS)
    parser.add_argument("--keep-going", action="store_true", help="every search step, even after one missed")
    parser.add_argument(
        "--layout", choices=("split", "one"), default="split", help="per instance: API + streams, or one"
    )
    parser.add_argument("--out")
    a = parser.parse_args()
    r = run(a.multiples, a.step_seconds, a.multiple, a.seconds, a.processes, a.visit_seconds, a.keep_going, a.layout)
    text = json.dumps(r, ensure_ascii=False, indent=1, default=str)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
