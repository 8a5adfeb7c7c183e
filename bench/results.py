"""What ``make bench`` writes: the probes' goals, the machine, and bench/RESULTS.md."""

import os
import platform
import subprocess

GOALS = {
    "p1": "req/s >= 0.7x bare Flask + SQLAlchemy; at most 5 SQL queries, constant",
    "p2": ">= 300 verified, applied notifications/s; 15 duplicate deliveries: 0 writes",
    "p3": "1M bills, 10k due: sweeps < 10 s; time 1M / 100k at equal due <= 1.3",
    "p4": "HIS event -> SSE subscriber, 500 open streams: p99 < 100 ms",
    "p4b": "10,000 open streams on one 2-core instance: HIS event -> frame p99 < 100 ms; HIS POST and "
    "notification p99 <= 1.5x their value with no stream open; memory per stream",
    "p4s": "P4' with the streams on their own gunicorn beside the API one, on the same 2 cores "
    "(docs/operations.md, 'Live streams'): the same goals",
    "p5": "merged payment of 10 bills <= 1.5x the latency of 1 bill, equal query count",
    "p6": "a city's day (200k visits, peak hour 12 %) at 2x the peak hour for 10 min, 2 instances: "
    "p99 < 300 ms for every route class, 0 errors, ledger balanced",
}


LABELS = {"p4b": "P4'", "p4s": "P4' split"}


def machine():
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // 1024
    except OSError:
        mem = 0
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split(" sha=")[0]
    load = os.getloadavg()
    return "%s, %d cores, %d MiB; %s; %s; Python %s; load average at start %.1f %.1f %.1f" % (
        cpu,
        os.cpu_count(),
        mem,
        pg,
        redis.strip(),
        platform.python_version(),
        *load,
    )


def write(path, started, head, rows):
    lines = [
        "# Benchmark results (issue 9)",
        "",
        "Written by `make bench` (`bench/run.py`): gunicorn (gevent) on PostgreSQL + Redis, load",
        "from separate processes (wrk, asyncio sockets). Absolute times on this machine are noisy",
        "(cores shared with other work), so every figure is a median or a ratio of one run.",
        "Reasons and profiles for any missed goal: `bench/NOTES.md`.",
        "",
        "- date: %s UTC" % started.strftime("%Y-%m-%d %H:%M"),
        "- machine: %s" % head,
        "",
        "| probe | goal | result | met |",
        "|---|---|---|---|",
    ]
    lines += [
        "| %s | %s | %s | %s |" % (LABELS.get(p, p.upper()), GOALS[p], figure, "yes" if met else "**no**")
        for p, figure, met in rows
    ]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
