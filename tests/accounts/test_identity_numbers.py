import datetime as dt

import pytest

from postpay.accounts import identity


def test_valid_number_gives_birth_date_and_sex():
    assert identity.parse("11010519491231002X") == (dt.date(1949, 12, 31), "F")
    assert identity.parse(
        "110105194912310021".replace("0021", "0013")[:17] + identity.check_digit("11010519491231001")
    ) == (
        dt.date(1949, 12, 31),
        "M",
    )


def test_lower_case_x_and_spaces_are_normalised():
    assert identity.parse(" 11010519491231002x ")[1] == "F"


@pytest.mark.parametrize(
    "number, why",
    [
        ("110105194912310021", "校验位"),
        ("11010519491231002", "18位"),
        ("1101051949123100AX", "18位"),
        # Full-width and Arabic-Indic digits: int() reads them, the form must not.
        ("\uff11\uff11" + "0105194912310021", "18位"),
        ("11010519491231002\u0661", "18位"),
        ("110105194913310024", "出生日期"),
        ("110105299912310028", "出生日期"),
    ],
)
def test_invalid_numbers_are_refused(number, why):
    if why == "出生日期":
        number = number[:17] + identity.check_digit(number[:17])
    with pytest.raises(ValueError, match=why):
        identity.parse(number, today=dt.date(2026, 11, 22))


def test_age_counts_whole_years():
    birth = dt.date(2012, 11, 23)
    assert identity.age_on(birth, dt.date(2026, 11, 22)) == 13
    assert identity.age_on(birth, dt.date(2026, 11, 23)) == 14
