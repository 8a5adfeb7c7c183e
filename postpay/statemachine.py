"""Shared model pieces: the status transition (DESIGN 5) and the partial unique index."""

from postpay.errors import Conflict
from postpay.extensions import db


class Transitions:
    """Mixin for an aggregate with a ``status`` enum.

    The class names ``TRANSITIONS`` (status -> allowed next statuses), ``STATE_LABEL``
    (what patients read) and ``STATE_ERROR`` (the Conflict code).
    """

    def transition(self, to):
        """Move to ``to``. Raises Conflict for an illegal or repeated move; never a silent no-op."""
        check_transition(type(self), self.status, to)
        self.status = to


def check_transition(cls, status, to):
    """The rule behind ``transition``, for a row moved by one guarded UPDATE. Raises Conflict."""
    if to not in cls.TRANSITIONS[status]:
        raise Conflict("%s状态为%s，不能变更为%s" % (cls.STATE_LABEL, status.value, to.value), code=cls.STATE_ERROR)


def unique_where(name, *columns, where):
    """A unique index over the rows matching ``where`` (SQL), on PostgreSQL and SQLite alike."""
    return db.Index(name, *columns, unique=True, postgresql_where=db.text(where), sqlite_where=db.text(where))
