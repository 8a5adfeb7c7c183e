"""Time for the whole house: UTC for storage, Asia/Shanghai for the local day.

Times are stored and compared in UTC (``utcnow``); a day a patient or a hospital speaks of
(a visit day, a reconciliation day, quiet hours) is the local day in Asia/Shanghai.
"""

import datetime as dt
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow():
    """Now, timezone-aware, in UTC."""
    return dt.datetime.now(dt.timezone.utc)


def today():
    """Today's date in Asia/Shanghai."""
    return dt.datetime.now(SHANGHAI).date()


def local_date(moment):
    """The Asia/Shanghai calendar day of an aware time."""
    return moment.astimezone(SHANGHAI).date()


def day_start(day, at=dt.time()):
    """The aware moment ``at`` (midnight unless given) on the local ``day`` in Asia/Shanghai."""
    return dt.datetime.combine(day, at, SHANGHAI)


def from_rfc3339(text):
    """WeChat's RFC 3339 time (``2026-11-30T10:00:00+08:00``) in UTC; now when it is missing or bad."""
    try:
        return dt.datetime.fromisoformat(text).astimezone(dt.timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return utcnow()
