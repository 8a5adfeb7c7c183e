"""Resident identity numbers (GB 11643-1999): check digit, birth date, sex."""

import datetime as dt
import re

_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_CHECK = "10X98765432"
#: ASCII digits only: ``\d`` would let full-width and other Unicode digits through.
_FORM = re.compile(r"^[0-9]{17}[0-9X]$")


def normalize(id_number):
    """Strip spaces and upper-case a trailing ``x``."""
    return (id_number or "").strip().upper()


def check_digit(first17):
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def parse(id_number, today=None):
    """Validate an 18-digit identity number; return ``(birth_date, sex)`` with sex ``M``/``F``.

    Raises ValueError with a Chinese message for a bad form, date or check digit.
    """
    value = normalize(id_number)
    if not _FORM.match(value):
        raise ValueError("身份证号应为18位")
    if check_digit(value[:17]) != value[17]:
        raise ValueError("身份证号校验位不正确")
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValueError("身份证号中的出生日期不正确") from None
    if birth > (today or dt.date.today()) or birth.year < 1900:
        raise ValueError("身份证号中的出生日期不正确")
    return birth, ("M" if int(value[16]) % 2 else "F")


def age_on(birth, day):
    """Whole years of age on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
