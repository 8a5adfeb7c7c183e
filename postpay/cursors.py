"""Keyset cursors of the feeds and lists: ``<UTC time with Z>,<id>`` of the last row read, so a
page resumes after that row whatever was added since (rows are ordered by time, then id)."""

import datetime as dt

from postpay.api import parse_time
from postpay.errors import Invalid
from postpay.extensions import db


def parse(cursor):
    """``cursor`` -> ``(moment in UTC, id)``. Raises Invalid (BAD_CURSOR)."""
    text, _, last_id = (cursor or "").partition(",")
    try:
        moment = parse_time(text)
    except Invalid:
        moment = None
    if moment is None or not last_id:
        raise Invalid("cursor 无效", code="BAD_CURSOR")
    return moment, last_id


def of(moment, row_id):
    """The cursor after a row: its time in UTC with a ``Z`` (nothing to escape in a URL) and its id."""
    return "%s,%s" % (moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), row_id)


def after(query, cursor, moment_column, id_column, newest_first=False):
    """``query`` limited to the rows after ``cursor`` in (time, id) order, or before it when the
    list runs newest first. Raises Invalid (BAD_CURSOR)."""
    moment, last_id = parse(cursor)
    if newest_first:
        return query.where(db.or_(moment_column < moment, db.and_(moment_column == moment, id_column < last_id)))
    return query.where(db.or_(moment_column > moment, db.and_(moment_column == moment, id_column > last_id)))
