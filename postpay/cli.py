"""What every command shares: bad input prints one line and exits 2, without a traceback.

``click.BadParameter`` and ``click.UsageError`` exit 2 but print the usage and a hint
above the error; these print only ``Error: ...``. A rule's refusal (a DomainError, say
an unknown hospital) is bad input too: ``refused()`` turns it into one line, in Chinese.
"""

import datetime as dt
from contextlib import contextmanager

import click

from postpay.errors import DomainError


class _OneLine:
    def show(self, file=None):
        click.echo("Error: %s" % self.format_message(), file=file, err=file is None)


class BadValue(_OneLine, click.BadParameter):
    """A value the command cannot use (a bad date, a code too long): exit 2, one line."""


class Refused(_OneLine, click.UsageError):
    """A rule said no (an unknown hospital or username, a short password): exit 2, one line."""


@contextmanager
def refused():
    """Turn a DomainError raised inside into Refused, with its Chinese message."""
    try:
        yield
    except DomainError as e:
        raise Refused(e.message) from None


def at_most(length, value, hint):
    """``value`` when it is at most ``length`` characters; else BadValue for ``hint`` (an option or argument)."""
    if len(value) > length:
        raise BadValue("at most %d characters" % length, param_hint="'%s'" % hint)  # quoted, as click quotes a param
    return value


class Day(click.ParamType):
    """A calendar day, ``YYYY-MM-DD``, as a ``datetime.date``."""

    name = "YYYY-MM-DD"

    def convert(self, value, param, ctx):
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise BadValue("%r is not a day YYYY-MM-DD" % value, ctx=ctx, param=param) from None


class Moment(click.ParamType):
    """An ISO time with its offset (``2026-11-22T23:59:00+08:00``), as an aware ``datetime``."""

    name = "ISO_TIME"

    def convert(self, value, param, ctx):
        if isinstance(value, dt.datetime):
            moment = value
        else:
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                raise BadValue("%r is not an ISO time" % value, ctx=ctx, param=param) from None
        if moment.tzinfo is None:
            raise BadValue("give an offset, e.g. 2026-11-22T23:59:00+08:00", ctx=ctx, param=param)
        return moment


DAY = Day()
MOMENT = Moment()
