"""P6's processes: the instances and the job worker under load, the sweeps run beside them,
and what the machine and py-spy say of them."""

import os
import subprocess
import sys

from bench.common import ROOT, gunicorn
from bench.outstanding import wait_up

BIN = os.path.dirname(sys.executable)


def servers(env, layout, instances=2):
    """``instances`` instances and one job worker; (processes, urls, stream urls). An instance is
    one gunicorn (2 gevent workers) for everything (``layout`` "one"), or the production layout
    ("split", docs/operations.md): an API gunicorn (2 gthread workers, 16 threads) and a stream
    gunicorn (2 gevent workers) that the streams go to."""
    procs, urls, stream_urls = [], [], []
    log = open(os.path.join(env["POSTPAY_INSTANCE_PATH"], "servers.log"), "ab")
    for _ in range(instances):
        api = "gthread" if layout == "split" else "gevent"
        proc, url = gunicorn(env, log, GUNICORN_WORKER_CLASS=api, GUNICORN_THREADS="16")
        procs.append(proc)
        urls.append(url)
        if layout == "split":
            proc, url = gunicorn(env, log, GUNICORN_WORKER_CLASS="gevent")
            procs.append(proc)
        stream_urls.append(url)
    for url in urls + stream_urls:
        wait_up(url + "/openapi.json")
    procs.append(
        subprocess.Popen(
            [os.path.join(BIN, "flask"), "--app", "app", "jobs", "worker"],
            env=dict(env, PORT=urls[0].rsplit(":", 1)[1]),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    )
    return procs, urls, stream_urls


def cpu_seconds(pids):
    import psutil

    total = 0.0
    for pid in pids:
        try:
            p = psutil.Process(pid)
            for q in [p, *p.children(recursive=True)]:
                t = q.cpu_times()
                total += t.user + t.system
        except psutil.Error:
            pass
    return total


def sweep_twice(env):
    """Every sweep run twice at once, beside the job worker's own schedule: the overdue bills'
    reminders (R17) must still go out once each."""
    import datetime as dt

    now = dt.datetime.now(dt.timezone.utc).isoformat()
    cmd = [os.path.join(BIN, "flask"), "--app", "app", "jobs", "run-sweeps", "--now", now]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    return [subprocess.Popen(cmd, env=env, cwd=ROOT, **quiet) for _ in "ab"]


def profile(master, seconds):
    """With CITYDAY_PYSPY=<file>: py-spy samples one gunicorn worker of instance A (collapsed stacks)."""
    import psutil

    path = os.environ.get("CITYDAY_PYSPY")
    if not path:
        return None
    worker = psutil.Process(master).children()[0].pid
    cmd = [os.path.join(BIN, "py-spy"), "record", "--nonblocking", "-r", "50", "-d", str(seconds)]
    cmd += ["--format", "raw", "-o", path, "-p", str(worker)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def machine_busy():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return sum(fields) - fields[3] - fields[4], sum(fields)
