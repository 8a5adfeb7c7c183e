"""The ``payments`` commands."""

import click
from flask.cli import AppGroup

from postpay.cli import DAY
from postpay.payments.reconcile import reconcile


@click.group(cls=AppGroup)  # AppGroup: each command runs in the app context
def payments():
    """WeChat Pay payments."""


@payments.command("reconcile")
@click.option("--date", "day", type=DAY, required=True, help="YYYY-MM-DD (Shanghai)")
def payments_reconcile(day):
    """Compare the day's WeChat statement with our records; exit 1 on any difference."""
    found = reconcile(day)
    for kind, no, theirs, ours in found:
        click.echo("%s %s wechat=%s ours=%s" % (kind, no, theirs, ours))
    click.echo("%d difference(s) on %s" % (len(found), day.isoformat()))
    if found:
        raise SystemExit(1)


def init_app(app):
    app.cli.add_command(payments)
