"""Background work on RQ (DESIGN 9): plain functions taking ids, on named queues.
A Redis key per (what, whom) stops a double send when a job runs twice.

Workers run ``flask --app app jobs worker``, which gives every job the app context.
"""

import logging

from rq import Queue

from postpay.extensions import db, redis

log = logging.getLogger(__name__)

PUSHES = "pushes"


def queue(name=PUSHES):
    return Queue(name, connection=redis._get_current_object())


def enqueue(fn, *args, queue_name=PUSHES):
    """Queue ``fn(*args)``; called after the commit, so the job sees the committed rows."""
    queue(queue_name).enqueue(fn, *args, job_timeout=60, result_ttl=300, failure_ttl=86400)


def once(key, ttl=7 * 86400):
    """True the first time ``key`` is claimed: the guard against sending twice."""
    return bool(redis.set("once:" + key, 1, nx=True, ex=ttl))


def send_event_messages(event_id):
    """Subscribe messages for a key visit event, to the patient and accompanying relatives."""
    from postpay.visits import messages

    messages.send_for_event(event_id)
    db.session.commit()


def send_bill_due_messages(bill_id):
    from postpay.visits import messages

    messages.send_for_bill(bill_id)
    db.session.commit()


def send_refund(refund_id):
    """Carry a requested refund to WeChat Pay."""
    from postpay.payments import refunds

    refunds.send(refund_id)
    db.session.commit()


def start_inprocess_worker(app):
    """Development only (no REDIS_URL): the in-process Redis cannot be shared with a worker
    process, so one background thread works the queue. Never a request thread, never in production."""
    import threading

    from rq import SimpleWorker
    from rq.timeouts import TimerDeathPenalty

    class ThreadWorker(SimpleWorker):
        death_penalty_class = TimerDeathPenalty  # SIGALRM belongs to the main thread

        def _install_signal_handlers(self):  # so do the other signals
            pass

    def run():
        with app.app_context():
            q = queue()
            ThreadWorker([q], connection=q.connection).work(burst=False, logging_level="WARNING")

    threading.Thread(target=run, name="rq-inprocess", daemon=True).start()
    log.warning("no REDIS_URL: jobs run on an in-process worker thread (development only)")
