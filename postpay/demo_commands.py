"""The ``demo`` commands: demo data for ``make run``."""

import click
from flask.cli import AppGroup

from postpay import demo as demo_data


@click.group(cls=AppGroup)  # AppGroup: each command runs in the app context
def demo():
    """Demo data for `make run`."""


@demo.command("load")
def demo_load():
    """Load (or refresh) the demo data; safe to run again."""
    for line in demo_data.load():
        click.echo(line)


def init_app(app):
    app.cli.add_command(demo)
