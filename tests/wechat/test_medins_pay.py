"""The medical-insurance payment interfaces: the exact yuan/fen boundary (property), and
6201/6202/6301/6401/6203 in the SM4/SM2 envelope against the sandbox platform."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wechat import medins
from wechat.medins_pay import PATHS, MedinsPay, fen, split_of, yuan
from wechat.medins_userquery import UserQuery

FEN = st.integers(min_value=-(10**15), max_value=10**15)


@given(FEN)
def test_fen_to_yuan_and_back_is_exact(amount):
    text = yuan(amount)
    assert fen(text) == amount and Decimal(text) * 100 == amount
    assert text.split(".")[1].__len__() == 2


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False, allow_infinity=False))
def test_yuan_with_two_decimals_to_fen_and_back_is_exact(value):
    assert Decimal(yuan(fen(str(value)))) == value
    assert fen(value) == fen(str(value))


@pytest.mark.parametrize("bad", [0.1, 1.0, "1.005", "abc", "NaN", "Infinity", "", True, "1e-3", "1e999999999", "-"])
def test_floats_extra_decimals_and_non_numbers_are_refused(bad):
    with pytest.raises(medins.MedinsError) as e:
        fen(bad)
    assert e.value.code == "AMOUNT"


def test_the_float_trap_is_avoided():
    assert fen("0.29") == 29 and fen("1.10") == 110 and fen("19.99") == 1999  # float(0.29)*100 == 28.999...
    with pytest.raises(TypeError):
        yuan(1.5)


def test_a_split_that_does_not_add_up_is_refused():
    good = {
        "feeSumamt": "100.00",
        "fundPay": "60.00",
        "psnAcctPay": "10.00",
        "acctMulaidPay": "0",
        "ownPayAmt": "30.00",
    }
    assert split_of(good)["own_pay_fen"] == 3000
    with pytest.raises(medins.MedinsError):
        split_of(good | {"ownPayAmt": "30.01"})


@pytest.fixture
def platform(app):
    cfg = app.config
    return MedinsPay(
        cfg["LIVE_URL"] + "/sandbox/medins/api",
        cfg["MEDINS_APP_ID"],
        cfg["MEDINS_APP_SECRET"],
        cfg["MEDINS_PRIVATE_KEY"],
        cfg["MEDINS_PLATFORM_PUBLIC_KEY"],
        cfg["MEDINS_ORG_CODE"],
    )


ORG = "H32060200001"
PERSON = {
    "name": "吴六",
    "id_number": "11010519491231002X",
    "insurance_type": "employee",
    "psn_no": "32060000000000000001",
    "insured_region": "320602",
}
ITEMS = [
    {"no": "1", "name": "CT", "category": "exam", "quantity_milli": 1000, "unit_price_fen": 12345, "amount_fen": 12345},
    {"no": "2", "name": "药", "category": "drug", "quantity_milli": 1500, "unit_price_fen": 101, "amount_fen": 152},
]
AT = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.timezone.utc)


#: The payAuthNo the sandbox minted for PERSON (``minted``), as userQuery gives it.
MINTED = {}


@pytest.fixture(autouse=True)
def minted(app, client, platform):
    """PERSON authorizes in the 医保授权 mini-program: userQuery gives the payAuthNo, 1101 the psnNo."""
    identity = {"name": PERSON["name"], "id_number": PERSON["id_number"], "insured_region": "320602"}
    identity |= {"insurance_type": "employee", "insured_status": "normal"}
    code = client.post("/sandbox/medins/auth-codes", json=identity).get_json()["auth_code"]
    cfg = app.config
    query = UserQuery(
        cfg["LIVE_URL"] + "/sandbox/medins", cfg["MEDINS_USERQUERY_PARTNER_ID"], cfg["MEDINS_USERQUERY_SECRET"]
    )
    MINTED["auth"] = query.query(code, "o-openid-pay")["pay_auth_no"]
    PERSON["psn_no"] = platform.person_info("01", MINTED["auth"], PERSON["id_number"], PERSON["name"])["psn_no"]


def order(no, auth=None):
    return {"no": no, "pay_auth_no": auth or MINTED["auth"], "latlnt": "120.86,32.01", "dept": "内科", "begin": AT}


def test_envelope_round_trip_through_every_interface_against_the_sandbox(client, platform):
    client.post("/sandbox/medins/split-rule", json={"fund_ratio_pct": 70, "psn_acct_balance_fen": 1000})
    up = platform.upload_fees(ORG, order("M-TEST-1"), PERSON, ITEMS)
    again = platform.upload_fees(ORG, order("M-TEST-1"), PERSON, ITEMS)  # the same order number is the same upload
    assert again["pay_ord_id"] == up["pay_ord_id"]
    split = platform.pre_settle(ORG, up["pay_ord_id"], up["pay_token"], MINTED["auth"], "M-TEST-1")
    # 124.97 yuan: the fund 70 % rounded down to the fen, the personal account 10 yuan, the rest cash.
    assert (split["fee_sum_fen"], split["fund_pay_fen"], split["psn_acct_pay_fen"], split["own_pay_fen"]) == (
        12497,
        8747,
        1000,
        2750,
    )
    assert platform.query_order(ORG, up["pay_ord_id"], up["pay_token"], PERSON)["state"] == "ordered"
    with pytest.raises(medins.MedinsError) as e:  # nothing settled: nothing to refund
        platform.refund(up["pay_ord_id"], "RF-1", 100, 0, MINTED["auth"], "test", AT)
    assert e.value.code == "2501"
    platform.revoke_upload(ORG, up["pay_ord_id"], up["pay_token"], PERSON)
    assert platform.query_order(ORG, up["pay_ord_id"], up["pay_token"], PERSON)["state"] == "revoked"


def test_the_platform_refuses_a_wrong_key_and_a_resident_as_mutual_aid(app, platform):
    with pytest.raises(medins.MedinsError) as e:
        platform.upload_fees(ORG, order("M-TEST-2"), PERSON, ITEMS, mulaid=PERSON | {"insurance_type": "resident"})
    assert e.value.code == "2101"
    forger = MedinsPay(
        platform.base_url,
        platform.app_id,
        platform.app_secret,
        medins.generate_sm2_keypair()[0],  # not the key the platform knows us by
        platform.platform_public_key,
        platform.org_code,
    )
    with pytest.raises(medins.MedinsError) as e:
        forger.upload_fees(ORG, order("M-TEST-3"), PERSON, ITEMS)
    assert e.value.code == "1002"


def test_6202_and_6203_must_name_the_payauthno_the_fees_were_uploaded_with(client, platform):
    up = platform.upload_fees(ORG, order("M-TEST-4"), PERSON, ITEMS)
    with pytest.raises(medins.MedinsError) as e:
        platform.pre_settle(ORG, up["pay_ord_id"], up["pay_token"], "AUTH-SOMEONE-ELSE", "M-TEST-4")
    assert e.value.code == "2202"


def _uploaded(platform, redis, no):
    """A 6201 input as our client sent it (the sandbox keeps it), and the order it made."""
    up = platform.upload_fees(ORG, order(no), PERSON, ITEMS)
    return json.loads(redis.get("sbx:medins:ord:%s" % up["pay_ord_id"]))["request"], up


@pytest.mark.parametrize(
    "change, words",
    [
        ({"medfeeSumamt": None}, "缺少必填字段medfeeSumamt"),
        ({"feeSumamt": "124.97"}, "不允许的字段feeSumamt"),  # the name the client used to send
        ({"feedetail": []}, "不允许的字段feedetail"),
        ({"medfeeSumamt": "124.9"}, "字段medfeeSumamt格式错误"),  # yuan with two decimals
        ({"medfeeSumamt": 124.97}, "字段medfeeSumamt格式错误"),  # a number, not a string
        ({"begntime": "2026-11-21 08:00:00"}, "字段begntime格式错误"),
        ({"ecToken": "EC-1"}, "payAuthNo/ecToken须且只能填写一个"),
        ({"payAuthNo": None}, "payAuthNo/ecToken须且只能填写一个"),
        ({"psnNo": ""}, "字段psnNo格式错误"),
    ],
)
def test_6201_input_outside_its_field_list_is_refused(platform, redis, change, words):
    data, _ = _uploaded(platform, redis, "M-FIELDS-1")
    data = {k: v for k, v in (data | change).items() if v is not None}
    with pytest.raises(medins.MedinsError) as e:
        platform.call(PATHS["6201"], data)
    assert e.value.code == "1003" and words in e.value.message, e.value.message


def test_a_fee_detail_outside_its_field_list_is_refused(platform, redis):
    data, _ = _uploaded(platform, redis, "M-FIELDS-2")
    for change, words in (({"detItemFeeSumamt": None}, "缺少必填字段detItemFeeSumamt"), ({"pric": "1.011"}, "pric")):
        detail = {k: v for k, v in (data["feedetailList"][0] | change).items() if v is not None}
        with pytest.raises(medins.MedinsError) as e:
            platform.call(PATHS["6201"], data | {"feedetailList": [detail]})
        assert e.value.code == "1003" and "feedetailList[0]" in e.value.message and words in e.value.message


def test_6203_input_is_checked_as_published(client, platform, redis):
    data, up = _uploaded(platform, redis, "M-FIELDS-3")
    refund = {
        "payOrdId": up["pay_ord_id"],
        "appRefdSn": "RF-FIELDS-1",
        "appRefdTime": "20261121100000",
        "totlRefdAmt": "1.00",
        "fundRefdAmt": "1.00",
        "psnAcctRefdAmt": "0.00",
        "cashRefdAmt": "0.00",
        "payAuthNo": MINTED["auth"],
        "refdType": "HI",
    }
    for change, words in (
        ({"appRefdTime": "2026-11-21"}, "appRefdTime"),
        ({"ecToken": "EC-1"}, "须且只能填写一个"),
        ({"revokeReason": "x"}, "不允许的字段revokeReason"),
        ({"totlRefdAmt": "1"}, "totlRefdAmt"),
    ):
        with pytest.raises(medins.MedinsError) as e:
            platform.call(PATHS["6203"], refund | change)
        assert e.value.code == "1003" and words in e.value.message, e.value.message
    platform.pre_settle(ORG, up["pay_ord_id"], up["pay_token"], MINTED["auth"], "M-FIELDS-3")
    order_state = json.loads(redis.get("sbx:medins:ord:%s" % up["pay_ord_id"]))
    assert order_state["ordStas"] == "1"
    redis.set("sbx:medins:ord:%s" % up["pay_ord_id"], json.dumps(order_state | {"ordStas": "4"}))  # settled
    for change, code in (
        ({"payAuthNo": "AUTH-SOMEONE-ELSE"}, "2504"),
        ({"fundRefdAmt": "0.50"}, "2502"),  # the parts do not make the total
        ({"totlRefdAmt": "999.00", "fundRefdAmt": "999.00"}, "2503"),  # more than the fund paid
    ):
        with pytest.raises(medins.MedinsError) as e:
            platform.call(PATHS["6203"], refund | change)
        assert e.value.code == code, e.value.message
    back = platform.refund(up["pay_ord_id"], "RF-FIELDS-2", 100, 0, MINTED["auth"], "检查未做", AT)
    assert (back["fund_refd_fen"], back["psn_acct_refd_fen"]) == (100, 0)


def test_6201_acts_only_for_the_person_behind_a_live_payauthno(app, client, platform):
    with pytest.raises(medins.MedinsError) as e:
        platform.upload_fees(ORG, order("M-CERT-1", auth="AUTHNEVERMINTED0001"), PERSON, ITEMS)
    assert e.value.code == "2103"
    with pytest.raises(medins.MedinsError) as e:  # someone else's fees under PERSON's authorization
        platform.upload_fees(ORG, order("M-CERT-2"), PERSON | {"id_number": "110105194912310037"}, ITEMS)
    assert e.value.code == "2105"
    identity = {"name": "陈七", "id_number": "110105194912310037", "insured_region": "320602"}
    identity |= {"insurance_type": "employee", "insured_status": "normal", "pay_auth_expires_in": 0}
    code = client.post("/sandbox/medins/auth-codes", json=identity).get_json()["auth_code"]
    cfg = app.config
    query = UserQuery(
        cfg["LIVE_URL"] + "/sandbox/medins", cfg["MEDINS_USERQUERY_PARTNER_ID"], cfg["MEDINS_USERQUERY_SECRET"]
    )
    expired = query.query(code, "o-openid-chen")["pay_auth_no"]
    chen = PERSON | {"name": "陈七", "id_number": "110105194912310037"}
    with pytest.raises(medins.MedinsError) as e:
        platform.upload_fees(ORG, order("M-CERT-3", auth=expired), chen, ITEMS)
    assert e.value.code == "2104"
