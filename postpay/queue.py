"""The job queue's plumbing (DESIGN 9): RQ queues, jobs queued by dotted name, the Redis
guards against a double run, and the in-process worker for development.

Services queue a job by its dotted name (``enqueue("postpay.payments.channels.wechat.refund_job", id)``),
so they never import the job code; this module imports no service. What runs when is
``postpay/schedule.py``.
"""

import logging
import threading

from rq import Queue, SimpleWorker
from rq.timeouts import TimerDeathPenalty

from postpay.extensions import db, redis

log = logging.getLogger(__name__)

#: Work a request leaves behind: messages, refunds, reminders, closing revoked work.
PUSHES = "pushes"
#: The scheduled sweeps.
SWEEPS = "sweeps"


def queue(name=PUSHES):
    return Queue(name, connection=redis._get_current_object())


def enqueue(path, *args, queue_name=PUSHES):
    """Queue the job ``path(*args)`` (a dotted name, e.g. ``"postpay.credit.jobs.send_reminder"``);
    called after the commit, so the job sees the committed rows."""
    if not isinstance(path, str):
        raise TypeError("queue a job by its dotted name, not %r" % (path,))
    queue(queue_name).enqueue(path, *args, job_timeout=60, result_ttl=300, failure_ttl=86400)


def enqueue_chunks(path, ids, size=50, queue_name=PUSHES):
    """Queue the job ``path(chunk)`` for every ``size`` ids, in one round trip to Redis."""
    if not isinstance(path, str):
        raise TypeError("queue a job by its dotted name, not %r" % (path,))
    chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
    if chunks:
        queue(queue_name).enqueue_many(
            [Queue.prepare_data(path, (chunk,), timeout=300, result_ttl=300, failure_ttl=86400) for chunk in chunks]
        )


def once(key, ttl=7 * 86400):
    """True the first time ``key`` is claimed: the guard against sending twice."""
    return bool(redis.set("once:" + key, 1, nx=True, ex=ttl))


def locked(name, timeout, fn, *args):
    """``fn(*args)`` under the Redis lock ``name``, or "skipped: running elsewhere" when another
    runner holds it."""
    lock = redis.lock(name, timeout=timeout, blocking=False)
    if not lock.acquire():
        return "skipped: running elsewhere"
    try:
        return fn(*args)
    finally:
        lock.release()


class AppWorker(SimpleWorker):
    """The worker of ``flask jobs worker``: each job runs in this process, in the app context,
    with a database session of its own (removed after it). RQ's default worker forks for every
    job, and the fork, its new database connections and the PostgreSQL backends they start cost
    more than most jobs here (a message, a reminder): bench P6 saw the job worker take more of a
    core than the service's web workers."""

    def execute_job(self, job, queue):
        try:
            return super().execute_job(job, queue)
        finally:
            db.session.remove()


class _ThreadWorker(AppWorker):
    death_penalty_class = TimerDeathPenalty  # SIGALRM belongs to the main thread

    def _install_signal_handlers(self):  # so do the other signals
        pass


def work_in_thread(app, names):
    """Development only (no REDIS_URL): the in-process Redis cannot be shared with a worker
    process, so one background thread works the queues ``names``. Never a request thread,
    never in production."""

    def run():
        with app.app_context():
            queues = [queue(name) for name in names]
            _ThreadWorker(queues, connection=queues[0].connection).work(burst=False, logging_level="WARNING")

    threading.Thread(target=run, name="rq-inprocess", daemon=True).start()


def work_here(names):
    """Development only (no REDIS_URL): a command queues into its own in-process Redis, which no
    worker will ever read, so it runs those jobs itself before it exits. Returns how many ran
    (succeeded, failed)."""
    queues = [queue(name) for name in names]

    def counts():
        return [sum(q.finished_job_registry.count for q in queues), sum(q.failed_job_registry.count for q in queues)]

    before = counts()
    _ThreadWorker(queues, connection=queues[0].connection).work(burst=True, logging_level="WARNING")
    return tuple(after - then for after, then in zip(counts(), before, strict=True))
