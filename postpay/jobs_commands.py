"""The ``jobs`` commands: the RQ worker and the sweeps run by hand."""

import click
from flask import current_app
from flask.cli import AppGroup

from postpay.cli import MOMENT
from postpay.queue import PUSHES, SWEEPS, AppWorker, queue, work_here
from postpay.schedule import run_sweeps, start_scheduler


@click.group(cls=AppGroup)  # AppGroup: each command runs in the app context
def jobs():
    """Background jobs (RQ)."""


@jobs.command("worker")
@click.option("--burst", is_flag=True, help="stop when the queues are empty")
def jobs_worker(burst):
    """Run an RQ worker for the pushes and sweeps queues, and the sweep scheduler, in the app context."""
    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("a worker needs a real Redis: set REDIS_URL")
    queues = [queue(PUSHES), queue(SWEEPS)]
    if not burst:
        # Every worker may run the scheduler: each sweep is queued once per period.
        start_scheduler(current_app._get_current_object())
    AppWorker(queues, connection=queues[0].connection).work(burst=burst, with_scheduler=True)


@jobs.command("run-sweeps")
@click.option("--now", type=MOMENT, required=True, help="ISO time with offset: run every sweep as of then")
def jobs_run_sweeps(now):
    """Run every scheduled sweep once, as of --now. With a real Redis (REDIS_URL) the jobs they queue
    (reminders, notices) wait for the workers; without one (``make run``) they run here, before the
    command exits."""
    for name, result in run_sweeps(now):
        click.echo("%s: %s" % (name, result))
    if not current_app.config.get("REDIS_URL"):
        done, failed = work_here([PUSHES, SWEEPS])
        click.echo("jobs run here (no REDIS_URL): %d, failed: %d" % (done, failed))


def init_app(app):
    app.cli.add_command(jobs)
