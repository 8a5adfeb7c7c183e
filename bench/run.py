"""``make bench``: every probe of issue 9 against gunicorn on PostgreSQL + Redis, in one run,
written to bench/RESULTS.md (machine, date, medians, ratios, goal met or not).

    .venv/bin/python bench/run.py [--only p1 p4] [--out bench/RESULTS.md]

It creates a scratch database (``BENCH_DATABASE``, default ``postpay_bench_<pid>``) on the
PostgreSQL at ``BENCH_PG`` (default ``postgresql://postgres@127.0.0.1:5432``) and drops it at
the end; Redis is ``BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/13``, emptied). Each
probe runs in its own process, so one probe's servers and pools never bend another's figures.
"""

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.results import GOALS, machine, write  # noqa: E402


def p1():
    from bench import outstanding

    r = outstanding.run()
    figure = (
        "app %.0f req/s / bare %.0f req/s = **%.2fx** (medians of %d rounds; medians %.1f / %.1f ms); %d SQL queries"
        % (
            r["app_rps"],
            r["bare_rps"],
            r["ratio"],
            outstanding.ROUNDS,
            r["app_median_ms"],
            r["bare_median_ms"],
            r["queries"],
        )
    )
    return figure, r["ratio"] >= 0.7 and r["queries"] <= 5 and r["non_2xx"] == 0, r


def p2():
    from bench import notify

    r = notify.run()
    r["duplicate_writes"] = duplicate_writes()
    figure = (
        "**%.0f/s** applied (%d applied, %d non-2xx, median %.1f ms); floor (refused at the signature) %.0f/s; "
        % (
            r["applied_per_s"],
            r["applied"],
            r["non_2xx"],
            r["median_ms"],
            r["floor_per_s"],
        )
        + "bills booked twice %d; 15 duplicate deliveries: **%d writes**" % (r["paid_twice"], r["duplicate_writes"])
    )
    return figure, r["applied_per_s"] >= 300 and r["duplicate_writes"] == 0 and r["paid_twice"] == 0, r


def duplicate_writes():
    """INSERT/UPDATE/DELETE statements 15 more deliveries of an applied notification cost."""
    from bench.common import sub_merchants
    from bench.payments import duplicate_writes, setup
    from postpay.extensions import db
    from postpay.hospitals.service import upsert_hospital

    app, server, _url = setup()
    try:
        with app.app_context():
            hospital = upsert_hospital("BD1", "压测医院", "1900006601", "s")[0]
            db.session.commit()
            hospitals = [(hospital.id, hospital.mchid)]
        sub_merchants(app, [hospital.mchid])
        first, again = duplicate_writes(app, hospitals)
        assert first > 0, "the first delivery booked nothing"
        return again
    finally:
        server.terminate()
        server.wait(10)


def p3():
    from bench import sweep

    app = sweep.setup()
    times = {}
    for bills in (1_000_000, 100_000):
        _filled, swept, results = sweep.run(app, bills, 10_000)
        times[bills] = (swept, dict(results))
    ratio = times[1_000_000][0] / times[100_000][0]
    figure = "1M bills: **%.2f s**; 100k bills: %.2f s; ratio **%.2fx** (results at 1M: %s)" % (
        times[1_000_000][0],
        times[100_000][0],
        ratio,
        times[1_000_000][1],
    )
    return figure, times[1_000_000][0] < 10 and ratio <= 1.3, {"seconds": {str(k): v[0] for k, v in times.items()}}


def p4():
    from bench import sse

    r = sse.run()
    figure = "p50 %.1f ms, **p99 %.1f ms**, max %.1f ms; %d/%d frames; HIS POST alone %.1f ms (median)" % (
        r["p50_ms"],
        r["p99_ms"],
        r["max_ms"],
        r["delivered"],
        r["expected"],
        r["post_median_ms"],
    )
    return figure, r["p99_ms"] < 100 and r["delivered"] == r["expected"], r


def p4b(layout="one"):
    from bench import sse10k

    r = sse10k.run(layout)
    figure = (
        "%d streams open (opened in %.0f s; %d refusals retried %s): "
        "event -> frame p50 %.1f ms, **p99 %.1f ms**, max %.1f ms, %d/%d frames; "
        "HIS POST p99 %.1f -> %.1f ms (**%.2fx**); notification p99 %.1f -> %.1f ms (**%.2fx**); "
        "**%.1f KiB per stream** (workers' RSS %.0f -> %.0f MiB); Redis connections added %d"
    ) % (
        r["streams"],
        r["open_s"],
        r["refused_then_retried"],
        r["refusals"],
        r["p50_ms"],
        r["p99_ms"],
        r["max_ms"],
        r["frames"],
        r["expected"],
        r["post_p99_idle_ms"],
        r["post_p99_open_ms"],
        r["post_ratio"],
        r["notify_p99_idle_ms"],
        r["notify_p99_open_ms"],
        r["notify_ratio"],
        r["kib_per_stream"],
        r["rss_before_mib"],
        r["rss_after_mib"],
        r["redis_clients_added"],
    )
    met = r["streams"] >= 10_000 and r["p99_ms"] < 100 and r["frames"] == r["expected"]
    met = met and r["post_ratio"] <= 1.5 and r["notify_ratio"] <= 1.5
    return figure, met, r


def p5():
    from bench.payments import one_ten_ten, setup

    app, server, url = setup()
    try:
        ((one, q1), (ten, q10), (ten_c, q10c)), _ = one_ten_ten(app, url)
    finally:
        server.terminate()
        server.wait(10)
    figure = (
        "1 bill %.1f ms (%d queries); 10 bills %.1f ms (%d queries), **%.2fx**; "
        "10 bills at 10 hospitals (combine order) %.1f ms (%d queries), %.2fx (medians of 30, the cases taking turns)"
    ) % (one * 1000, q1, ten * 1000, q10, ten / one, ten_c * 1000, q10c, ten_c / one)
    r = {"one_ms": one * 1000, "ten_ms": ten * 1000, "ratio": ten / one, "queries": [q1, q10, q10c]}
    return figure, ten / one <= 1.5 and q1 == q10, r


def p6():
    """bench/cityday: the search (BENCH_P6_MULTIPLES, BENCH_P6_STEP_SECONDS), then the full run
    (BENCH_P6_MULTIPLE for BENCH_P6_SECONDS), then the ledger check."""
    from bench.cityday import drive, figures

    env = os.environ.get
    r = drive.run(
        [float(m) for m in env("BENCH_P6_MULTIPLES", "1 2 3 4").split()],
        int(env("BENCH_P6_STEP_SECONDS", "120")),
        float(env("BENCH_P6_MULTIPLE", "2")),
        int(env("BENCH_P6_SECONDS", "600")),
        int(env("BENCH_P6_PROCESSES", "1")),
        layout=env("BENCH_P6_LAYOUT", "split"),
    )
    full, ledger = r["full"], r["ledger"]
    return figures.figure(r), full["met"] and ledger["balanced"], r


def p4s():
    return p4b("split")


PROBES = {"p1": p1, "p2": p2, "p3": p3, "p4": p4, "p4b": p4b, "p4s": p4s, "p5": p5, "p6": p6}


def child(name):
    figure, met, raw = PROBES[name]()
    print("BENCH-RESULT " + json.dumps({"figure": figure, "met": met, "raw": raw}, default=str))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="+", choices=sorted(PROBES), default=sorted(PROBES))
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    parser.add_argument("--probe", help=argparse.SUPPRESS)  # internal: run one probe in this process
    args = parser.parse_args()
    if args.probe:
        return child(args.probe)
    if {"p1", "p2"} & set(args.only) and not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")
    # P4' opens 10,000 streams: a socket each in this process and in a gunicorn worker (the
    # limit is per process; the servers inherit it).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    pg = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
    name = os.environ.get("BENCH_DATABASE", "postpay_bench_%d" % os.getpid())
    admin = ["psql", pg + "/postgres", "-v", "ON_ERROR_STOP=1", "-qc"]
    subprocess.run(admin + ["DROP DATABASE IF EXISTS %s WITH (FORCE)" % name], check=True)
    subprocess.run(admin + ["CREATE DATABASE %s" % name], check=True)
    env = dict(
        os.environ,
        DATABASE_URL="%s/%s" % (pg, name),
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
    )
    started = dt.datetime.now(dt.timezone.utc)
    head = machine()
    rows = []
    try:
        for probe in args.only:
            print("== %s: %s" % (probe, GOALS[probe]), flush=True)
            out = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--probe", probe],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH-RESULT ")), None)
            if line is None:
                print(out.stdout[-2000:], out.stderr[-4000:], file=sys.stderr)
                rows.append((probe, "failed to run (exit %d): see the console" % out.returncode, False))
            else:
                result = json.loads(line[len("BENCH-RESULT ") :])
                rows.append((probe, result["figure"], result["met"]))
            print("   %s -> %s" % (rows[-1][1], "met" if rows[-1][2] else "MISSED"), flush=True)
    finally:
        subprocess.run(admin + ["DROP DATABASE IF EXISTS %s WITH (FORCE)" % name])
    write(args.out, started, head, rows)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
