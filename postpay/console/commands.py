"""The ``staff`` commands: accounts of the window console."""

import click
from flask.cli import AppGroup

from postpay.cli import Refused, at_most, refused
from postpay.console.auth import create_staff, deactivate, set_password
from postpay.extensions import db


@click.group(cls=AppGroup)  # AppGroup: each command runs in the app context
def staff():
    """Staff accounts of the window console."""


@staff.command("create")
@click.argument("username", required=False)
@click.option("--username", "username_option", help="the login name (or give it as the argument)")
@click.option("--role", required=True, type=click.Choice(["window", "supervisor", "admin"]))
@click.option("--hospital", "hospital_code", required=True, help="X-Hospital-Id of the account's hospital")
@click.password_option(help="asked for when not given")
def staff_create(username, username_option, role, hospital_code, password):
    """Create a console account; the password is stored hashed."""
    name = username or username_option
    if not name:
        raise Refused("give the USERNAME (or --username)")
    at_most(64, name, "USERNAME")  # the column's length
    with refused():
        account = create_staff(name, password, role, hospital_code)
    db.session.commit()
    click.echo("staff %s (%s) at %s created" % (account.username, role, hospital_code))


@staff.command("set-password")
@click.argument("username")
@click.password_option(help="asked for when not given")
def staff_set_password(username, password):
    """Give a console account a new password: its sessions end and a lock is lifted."""
    with refused():
        set_password(username, password)
    db.session.commit()
    click.echo("staff %s: password changed, sessions ended" % username)


@staff.command("deactivate")
@click.argument("username")
def staff_deactivate(username):
    """Disable a console account: it cannot sign in and its sessions end."""
    with refused():
        deactivate(username)
    db.session.commit()
    click.echo("staff %s deactivated, sessions ended" % username)


def init_app(app):
    app.cli.add_command(staff)
