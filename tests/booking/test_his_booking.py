"""The HIS side of booking (R15): publishing slots, the appointment feed, a visit linked to its
appointment; the race for the last place; lists at a constant number of queries."""

import threading

from tests.booking.conftest import local_day, slot
from tests.conftest import bearer, count_statements


def test_republishing_is_idempotent_and_never_takes_capacity_below_what_is_taken_R15(
    client, family, publish, hospital_id, book
):
    day = local_day(2)
    first = publish([slot("S1", day, capacity=2), slot("S2", day, hour=10)], day)
    assert first.status_code == 200, first.get_json()
    assert publish([slot("S1", day, capacity=2), slot("S2", day, hour=10)], day).get_json() == first.get_json()
    book(family["son"], family["elder_patient"]["id"], hospital_id(), "S1")
    book(family["son"], family["son_patient"]["id"], hospital_id(), "S1", key="book-key-0002")
    refused = publish([slot("S1", day, capacity=1)], day)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "CAPACITY_BELOW_TAKEN"
    moved = publish([slot("S1", day, hour=11, capacity=2)], day)
    assert moved.status_code == 409 and moved.get_json()["error"]["code"] == "SLOT_IN_USE"
    grown = publish([slot("S1", day, capacity=5, fee_fen=1800)], day).get_json()["slots"]
    assert grown == [{"his_slot_id": "S1", "capacity": 5, "taken": 2, "free": 3}]
    shown = client.get("/api/v1/hospitals/%s/schedules?date=%s" % (hospital_id(), day), headers=bearer(family["son"]))
    assert [(s["his_slot_id"], s["free"], s["fee_fen"]) for s in shown.get_json()["slots"]] == [
        ("S1", 3, 1800),
        ("S2", 2, 1200),
    ]
    wrong_day = publish([slot("S3", local_day(3))], day)
    assert wrong_day.status_code == 422 and wrong_day.get_json()["error"]["code"] == "SLOT_TIME"


def test_the_his_reads_booked_paid_and_cancelled_changes_in_order_and_resumes_R15(
    app, client, his, family, publish, hospital_id, book
):
    day = local_day(2)
    publish([slot("S1", day)], day)
    held = book(family["son"], family["elder_patient"]["id"], hospital_id(), "S1").get_json()["appointment"]
    fresh = his.open("/his/v1/appointments", method="GET").get_json()
    assert fresh == {"changes": [], "next_cursor": None}  # not settled yet: a later commit could land before it
    app.config["POSTPAY_FEED_LAG_SECONDS"] = 0
    page = his.open("/his/v1/appointments?limit=10", method="GET").get_json()
    assert [(c["appointment_id"], c["kind"]) for c in page["changes"]] == [(held["id"], "booked")]
    assert page["changes"][0]["patient"]["id_number"].count("*") >= 8
    client.delete("/api/v1/appointments/%s" % held["id"], headers=bearer(family["son"]))
    later = his.open("/his/v1/appointments?cursor=%s" % page["next_cursor"], method="GET").get_json()
    assert [(c["kind"], c["reason"]) for c in later["changes"]] == [("cancelled", "cancelled")]
    done = his.open("/his/v1/appointments?cursor=%s" % later["next_cursor"], method="GET").get_json()
    assert done["changes"] == [] and done["next_cursor"] == later["next_cursor"]
    other = his.at("HA01").open("/his/v1/appointments", method="GET").get_json()
    assert other["changes"] == []  # another hospital's HIS sees none of it
    bad = his.open("/his/v1/appointments?cursor=nonsense", method="GET")
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "BAD_CURSOR"


def test_a_visit_registered_with_its_appointment_links_to_it_R15(client, his, family, publish, hospital_id, book):
    day = local_day(2)
    publish([slot("S1", day)], day)
    held = book(family["son"], family["elder_patient"]["id"], hospital_id(), "S1").get_json()["appointment"]
    elder, son = family["elder_patient"], family["son_patient"]

    def register(no, patient, appointment_id):
        body = {
            "his_visit_no": no,
            "patient": {"name": patient["name"], "id_number": patient["id_number_plain"]},
            "department": "心内科",
            "doctor": "王医生",
            "registered_at": "%sT09:00:00+08:00" % day,
            "appointment_id": appointment_id,
        }
        return his.open("/his/v1/visits", json=body)

    unknown = register("V0", elder, "ap_doesnotexist00")
    assert unknown.status_code == 422 and unknown.get_json()["error"]["code"] == "UNKNOWN_APPOINTMENT"
    foreign = register("V1", son, held["id"])
    assert foreign.status_code == 409 and foreign.get_json()["error"]["code"] == "APPOINTMENT_PATIENT_MISMATCH"
    linked = register("V2", elder, held["id"])
    assert linked.status_code == 200, linked.get_json()
    shown = client.get("/api/v1/appointments/%s" % held["id"], headers=bearer(family["elder"])).get_json()
    assert shown["appointment"]["visit_id"] == linked.get_json()["visit_id"]
    twice = register("V3", elder, held["id"])
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "APPOINTMENT_LINKED"


def test_twenty_bookers_for_the_last_place_exactly_one_gets_it_R15(app, person, publish, hospital_id):
    day = local_day(2)
    publish([slot("LAST", day, capacity=1)], day)
    nt01 = hospital_id()
    people = [person("o-b-race%02d" % n) for n in range(20)]
    results, barrier = [], threading.Barrier(20)

    def go(token, patient):
        client = app.test_client()
        barrier.wait()
        body = {"patient_id": patient["id"], "hospital_id": nt01, "his_slot_id": "LAST"}
        headers = bearer(token) | {"Idempotency-Key": "race-key-01"}
        resp = client.post("/api/v1/appointments", json=body, headers=headers)
        results.append((resp.status_code, (resp.get_json().get("error") or {}).get("code")))

    threads = [threading.Thread(target=go, args=p) for p in people]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert sorted(results, key=str) == sorted([(201, None)] + [(409, "SLOT_FULL")] * 19, key=str), results
    shown = (
        app.test_client()
        .get("/api/v1/hospitals/%s/schedules?date=%s" % (nt01, day), headers=bearer(people[0][0]))
        .get_json()
    )
    assert shown["slots"][0]["free"] == 0


def test_schedules_and_appointments_are_read_in_a_constant_number_of_queries(
    app, client, family, publish, hospital_id, book
):
    day, nt01 = local_day(2), hospital_id()
    headers = bearer(family["son"])
    publish([slot("S1", day)], day)
    book(family["son"], family["elder_patient"]["id"], nt01, "S1")

    urls = ("/api/v1/hospitals", "/api/v1/hospitals/%s/schedules?date=%s" % (nt01, day), "/api/v1/appointments")

    def reads():
        return tuple(count_statements(app, lambda url=url: client.get(url, headers=headers)) for url in urls)

    few = reads()
    publish([slot("S%d" % n, day, hour=8 + n) for n in range(2, 10)], day)
    for n in range(2, 10):
        book(family["son"], family["elder_patient"]["id"], nt01, "S%d" % n, key="book-key-%04d" % n)
        book(family["son"], family["son_patient"]["id"], nt01, "S%d" % n, key="book-key-1%03d" % n)
    assert reads() == few, few
    print("queries (hospitals, schedules, appointments):", few)


def test_one_patient_booking_six_slots_of_a_day_at_once_gets_six_fee_bills_R15(app, family, publish, hospital_id):
    day, nt01 = local_day(2), hospital_id()
    publish([slot("P%d" % n, day, hour=8 + n) for n in range(6)], day)
    results, barrier = [], threading.Barrier(6)

    def go(n):
        body = {"patient_id": family["elder_patient"]["id"], "hospital_id": nt01, "his_slot_id": "P%d" % n}
        headers = bearer(family["son"]) | {"Idempotency-Key": "parts-key-%04d" % n}
        barrier.wait()
        resp = app.test_client().post("/api/v1/appointments", json=body, headers=headers)
        results.append((resp.status_code, resp.get_json()))

    threads = [threading.Thread(target=go, args=(n,)) for n in range(6)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert [status for status, _ in results] == [201] * 6, results
    assert len({body["appointment"]["bill_id"] for _, body in results}) == 6
