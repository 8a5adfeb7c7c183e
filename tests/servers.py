"""Throwaway Redis and PostgreSQL servers for the fault tests: started in a temporary folder on a
free local port, so a test can stop and restart them without touching the shared servers."""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time

#: Ports tried first (this workstation's share); any free port otherwise.
PORTS = list(range(8340, 8400))


def free_port():
    # Start at an offset of our own: two suites running at once (CI runs both backends
    # side by side) would otherwise probe the same first port and race for it.
    start = os.getpid() % len(PORTS)
    for port in PORTS[start:] + PORTS[:start]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(probe, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.05)
    raise RuntimeError("server did not come up")


def _listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def pg_bin():
    """The folder of initdb/pg_ctl, or None when PostgreSQL's server binaries are not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return os.path.dirname(found[-1]) if found else None


class Redis:
    """``redis-server`` without persistence."""

    def __init__(self):
        self.port, self.proc = free_port(), None
        self.url = "redis://127.0.0.1:%d/0" % self.port

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(lambda: _listening(self.port))
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        _wait(lambda: not _listening(self.port))


class Postgres:
    """A PostgreSQL cluster of its own (initdb), trusted local connections as ``postgres``."""

    def __init__(self):
        self.bin, self.port = pg_bin(), free_port()
        self.folder = tempfile.mkdtemp(prefix="pg-fault-")
        self.data = os.path.join(self.folder, "data")
        self.url = "postgresql+psycopg://postgres@127.0.0.1:%d/postpay" % self.port
        self.user = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.folder, "postgres")
            self.user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args):
        subprocess.run(self.user + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def init(self):
        self._run(os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        return self.start()

    def start(self):
        options = "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off" % (self.port, self.folder)
        self._run(
            os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-o", options, "-w", "-l", self.data + ".log", "start"
        )
        _wait(lambda: _listening(self.port))
        return self

    def create_database(self):
        self._run(
            os.path.join(self.bin, "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "postpay"
        )

    def restart(self):
        self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "restart")

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
