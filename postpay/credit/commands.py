"""The ``credit`` commands: the feed to the city's credit platform (R18)."""

import click
from flask.cli import AppGroup

from postpay.cli import MOMENT
from postpay.clock import utcnow
from postpay.credit.export import export


@click.group(cls=AppGroup)  # AppGroup: each command runs in the app context
def credit():
    """Credit records (R18)."""


@credit.command("export")
@click.option("--since", required=True, type=MOMENT, help="records made or repaired from this time, with its offset")
@click.option(
    "--out", type=click.File("a", encoding="utf-8", lazy=True), default="-", help="appended to (default stdout)"
)
def credit_export(since, out):
    """Write the records made and repaired since --since, not exported before, as JSON lines
    for the city's credit platform: each record once, its repair once as a correction."""
    records, corrections = export(since, utcnow(), out)
    click.echo("exported %d record(s), %d correction(s)" % (records, corrections), err=True)


def init_app(app):
    app.cli.add_command(credit)
