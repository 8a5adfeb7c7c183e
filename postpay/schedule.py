"""The top floor (DESIGN 9): the sweeps as a data list, and the scheduler that queues them.

This is the only module that imports job code; services queue their jobs by dotted name
through ``postpay/queue.py``. ``flask jobs worker`` works ``QUEUES`` and runs the scheduler;
``flask jobs run-sweeps --now`` runs ``run_sweeps``.
"""

import datetime as dt
import logging
import threading
import time

from postpay import queue
from postpay.accounts.insurance import forget_expired as forget_pay_auth
from postpay.billing.service import day_end
from postpay.booking.jobs import sweep as booking_sweep
from postpay.credit.service import arrears_sweep, reminder_sweep
from postpay.extensions import redis
from postpay.payments.sweeps import close_expired, poll_pending, query_pending

log = logging.getLogger(__name__)

#: The schedule, as data: (name, function taking `now`, every how many seconds).
SCHEDULE = [
    ("day_end", day_end, 3600),
    ("reminders", reminder_sweep, 300),
    ("arrears", arrears_sweep, 3600),
    ("close_expired_orders", close_expired, 60),
    ("query_pending_orders", query_pending, 60),
    #: Medical-insurance orders WeChat stopped notifying about (after ~30 s): ask the platform (6301).
    ("poll_insurance_orders", poll_pending, 30),
    #: R15: book paid appointments, release those unpaid after 15 minutes, the day-before reminders.
    ("appointments", booking_sweep, 60),
    #: Expired payAuthNo (encrypted at rest) is not kept beyond its use.
    ("forget_expired_pay_auth", forget_pay_auth, 3600),
]

#: The queues a worker works.
QUEUES = (queue.PUSHES, queue.SWEEPS)


def _locked(name, fn, every, now):
    return queue.locked("sweep:%s" % name, max(every, 60), fn, now)


def run_sweeps(now):
    """Every sweep once as of ``now``; a Redis lock per sweep keeps two runners from doing it twice."""
    return [(name, _locked(name, fn, every, now)) for name, fn, every in SCHEDULE]


def run_sweep(name):
    """The job the scheduler queues: one sweep, as of now."""
    for sweep_name, fn, every in SCHEDULE:
        if sweep_name == name:
            return _locked(name, fn, every, dt.datetime.now(dt.timezone.utc))
    raise KeyError(name)


def schedule_due():
    """Queue each sweep whose period has come. Any number of workers may call this: a Redis key
    per sweep and period lets one of them queue it. Returns the names queued."""
    queued = []
    for name, _, every in SCHEDULE:
        if redis.set("sweep:slot:%s" % name, 1, nx=True, ex=every):
            queue.enqueue("postpay.schedule.run_sweep", name, queue_name=queue.SWEEPS)
            queued.append(name)
    return queued


def start_scheduler(app, tick=5):
    """A thread that queues the sweeps on time; started by every `jobs worker`, safe to run many."""

    def loop():
        with app.app_context():
            while True:
                try:
                    schedule_due()
                except Exception:
                    log.exception("scheduling sweeps failed")
                time.sleep(tick)

    threading.Thread(target=loop, name="sweep-scheduler", daemon=True).start()


def start_inprocess_worker(app):
    """Development only (no REDIS_URL): one thread of the web worker works the queues, and the
    scheduler runs beside it."""
    queue.work_in_thread(app, QUEUES)
    start_scheduler(app)
    log.warning("no REDIS_URL: jobs run on an in-process worker thread (development only)")
