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


def enqueue_chunks(fn, ids, size=50, queue_name=PUSHES):
    """Queue ``fn(chunk)`` for every ``size`` ids, in one round trip to Redis."""
    chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
    if chunks:
        queue(queue_name).enqueue_many(
            [Queue.prepare_data(fn, (chunk,), timeout=300, result_ttl=300, failure_ttl=86400) for chunk in chunks]
        )


def send_reminders(reminder_ids):
    """Claimed reminders (R17), each an SMS or a subscribe message; one failure does not stop the rest."""
    from postpay.credit.service import send_reminder as send

    for reminder_id in reminder_ids:
        try:
            send(reminder_id)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("reminder %s failed", reminder_id)


def send_reminder(reminder_id):
    send_reminders([reminder_id])


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


def close_revoked_work(user_id):
    """After a binding is revoked (R15): the account's pending payments and open settlements for a
    patient it may no longer pay for are closed at WeChat (uploads revoked at the platform) and
    their bills freed. Safe to run twice: what is closed already is skipped."""
    import datetime as dt

    # Job code is imported when the job runs: payments.notify imports this module.
    from postpay.insurance.service import close_unauthorised as close_settlements
    from postpay.payments.sweeps import close_unauthorised as close_payments

    now = dt.datetime.now(dt.timezone.utc)
    return close_payments(user_id, now), close_settlements(user_id, now)


def day_end(now):
    """Finalise the open bills of visit days that are over (R11): every earlier day, and today
    once the local day-end time (``POSTPAY_DAY_END``, 23:59 Asia/Shanghai) has come."""
    import datetime as dt

    from flask import current_app

    from postpay.billing.service import finalise_day_end
    from postpay.clock import SHANGHAI

    local = now.astimezone(SHANGHAI)
    hour, minute = (int(p) for p in current_app.config["POSTPAY_DAY_END"].split(":"))
    cutoff = local.date() + dt.timedelta(days=1 if (local.hour, local.minute) >= (hour, minute) else 0)
    count = finalise_day_end(cutoff, now)
    db.session.commit()
    return count


def close_expired_orders(now):
    from postpay.payments.sweeps import close_expired

    return close_expired(now)


def query_pending_orders(now):
    from postpay.payments.sweeps import query_pending

    return query_pending(now)


def poll_insurance_orders(now):
    """Medical-insurance orders WeChat stopped notifying about (after ~30 s): ask the platform (6301)."""
    from postpay.insurance.settle import poll_pending

    return poll_pending(now)


def reminders(now):
    from postpay.credit.service import reminder_sweep

    return reminder_sweep(now)


def arrears(now):
    from postpay.credit.service import arrears_sweep

    return arrears_sweep(now)


#: The schedule, as data: (name, function taking `now`, every how many seconds).
SCHEDULE = [
    ("day_end", day_end, 3600),
    ("reminders", reminders, 300),
    ("arrears", arrears, 3600),
    ("close_expired_orders", close_expired_orders, 60),
    ("query_pending_orders", query_pending_orders, 60),
    ("poll_insurance_orders", poll_insurance_orders, 30),
]


SWEEPS = "sweeps"


def _locked(name, fn, every, now):
    lock = redis.lock("sweep:%s" % name, timeout=max(every, 60), blocking=False)
    if not lock.acquire():
        return "skipped: running elsewhere"
    try:
        return fn(now)
    finally:
        lock.release()


def run_sweeps(now):
    """Every sweep once as of ``now``; a Redis lock per sweep keeps two runners from doing it twice."""
    return [(name, _locked(name, fn, every, now)) for name, fn, every in SCHEDULE]


def run_sweep(name):
    """The job the scheduler queues: one sweep, as of now."""
    import datetime as dt

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
            enqueue(run_sweep, name, queue_name=SWEEPS)
            queued.append(name)
    return queued


def start_scheduler(app, tick=5):
    """A thread that queues the sweeps on time; started by every `jobs worker`, safe to run many."""
    import threading
    import time

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
            queues = [queue(), queue(SWEEPS)]
            ThreadWorker(queues, connection=queues[0].connection).work(burst=False, logging_level="WARNING")

    threading.Thread(target=run, name="rq-inprocess", daemon=True).start()
    start_scheduler(app)
    log.warning("no REDIS_URL: jobs run on an in-process worker thread (development only)")
