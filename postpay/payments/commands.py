"""The ``payments`` commands."""

import click
from flask.cli import AppGroup

from postpay.cli import DAY, refused
from postpay.extensions import db
from postpay.hospitals.models import Hospital
from postpay.payments.reconcile import reconcile


@click.group(cls=AppGroup)  # AppGroup: each command runs in the app context
def payments():
    """WeChat Pay payments."""


@payments.command("reconcile")
@click.option("--date", "day", type=DAY, required=True, help="YYYY-MM-DD (Shanghai)")
def payments_reconcile(day):
    """Compare the day's WeChat statement with our records, hospital by hospital; exit 1 on any difference."""
    with refused():
        found = reconcile(day)
    names = {h.mchid: "%s %s" % (h.code, h.name) for h in db.session.execute(db.select(Hospital)).scalars()}
    for mchid, differences in sorted(found.items()):
        click.echo("== %s (mchid %s): %d difference(s)" % (names.get(mchid, "未知商户"), mchid, len(differences)))
        for kind, no, theirs, ours in differences:
            click.echo("%s %s wechat=%s ours=%s" % (kind, no, theirs, ours))
    total = sum(len(d) for d in found.values())
    click.echo("%d difference(s) on %s" % (total, day.isoformat()))
    if total:
        raise SystemExit(1)


def init_app(app):
    app.cli.add_command(payments)
