"""The auto jump (R6 with R9): signing on the day of a visit registered before the contract, while
nothing of it was charged or paid out of pocket, makes the rest of that visit post-pay. The HIS
learns it from its next call's answer and from GET /his/v1/visits/{no}."""

import datetime as dt

from postpay.billing.models import Bill, BillStatus
from postpay.extensions import db
from postpay.visits.models import Visit

PHONE = "13566660021"
CST = dt.timezone(dt.timedelta(hours=8))


def _visit(his, no):
    resp = his.open("/his/v1/visits/%s" % no, method="GET")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_signing_the_day_of_an_uncharged_visit_turns_it_post_pay_R6_R9(app, his, person, signed):
    token, patient = person("o-j-1", name="钱老伯", birth="19490909")
    registered = his.visit("J1", patient)
    assert registered["postpay"] is False and registered["bill_id"] is None
    assert _visit(his, "J1")["postpay"] is False  # not signed yet: GET says so too
    assert signed(token, patient["id"], PHONE).status_code == 201  # the auto jump right after registering
    now = _visit(his, "J1")
    assert now["postpay"] is True and now["reasons"] == [] and now["bill_id"]
    assert his.visit("J1", patient)["postpay"] is True  # a retried registration answers the same
    answer = his.items("J1", ("J1-1", "lab", "血常规", 1, 2000))[0]
    assert (answer["deferred"], answer["pay_now_reason"]) == (True, None)
    his.event("J1", "visit_finished")
    with app.app_context():
        bill = db.session.get(Bill, now["bill_id"])
        assert bill.status == BillStatus.due and bill.total_fen == 2000


def test_the_next_items_call_answers_post_pay_without_asking_first_R6_R9(his, person, signed):
    token, patient = person("o-j-2", birth="19510101")
    assert his.visit("J2", patient)["postpay"] is False
    assert signed(token, patient["id"], PHONE).status_code == 201
    answer = his.items("J2", ("J2-1", "exam", "心电图", 1, 3500))[0]
    assert answer["deferred"] is True
    assert _visit(his, "J2")["postpay"] is True


def test_a_visit_with_an_item_paid_out_of_pocket_stays_pay_as_you_go_R9(app, his, person, signed):
    token, patient = person("o-j-3", birth="19520202")
    his.visit("J3", patient)
    paid = his.items("J3", ("J3-0", "exam", "挂号诊查", 1, 1200, {"paid": True}))[0]
    assert paid["deferred"] is False
    assert signed(token, patient["id"], PHONE).status_code == 201
    assert _visit(his, "J3")["postpay"] is False and _visit(his, "J3")["bill_id"] is None
    later = his.items("J3", ("J3-1", "lab", "血常规", 1, 2000))[0]
    assert (later["deferred"], later["pay_now_reason"]) == (False, "PAYG")


def test_a_visit_of_an_earlier_day_does_not_jump_R6_R9(app, his, person, signed):
    token, patient = person("o-j-4", birth="19530303")
    yesterday = (dt.datetime.now(CST) - dt.timedelta(days=1)).isoformat()
    his.visit("J4", patient, registered_at=yesterday)
    assert signed(token, patient["id"], PHONE).status_code == 201
    assert _visit(his, "J4")["postpay"] is False
    with app.app_context():
        assert Visit.query.filter_by(his_visit_no="J4").one().bill_id is None


def test_a_finished_visit_does_not_jump_R6_R9(his, person, signed):
    token, patient = person("o-j-5", birth="19540404")
    his.visit("J5", patient)
    his.event("J5", "visit_finished")
    assert signed(token, patient["id"], PHONE).status_code == 201
    assert _visit(his, "J5")["postpay"] is False


def test_get_visit_is_the_hospitals_own_and_signed(client, his, person):
    _, patient = person("o-j-6", birth="19550505")
    his.visit("J6", patient)
    other = his.at("HA01").open("/his/v1/visits/J6", method="GET")
    assert other.status_code == 404 and other.get_json()["error"]["code"] == "VISIT_NOT_FOUND"
    assert client.get("/his/v1/visits/J6").status_code == 401
