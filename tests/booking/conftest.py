import datetime as dt

import pytest

from tests.conftest import bearer

CST = dt.timezone(dt.timedelta(hours=8))
ELDER_PHONE, SON_PHONE = "13622220001", "13622220002"


def local_day(days=0):
    return dt.datetime.now(CST).date() + dt.timedelta(days=days)


def slot(his_slot_id, day, hour=9, capacity=2, fee_fen=1200, minutes=30):
    start = dt.datetime.combine(day, dt.time(hour), CST)
    return {
        "his_slot_id": his_slot_id,
        "start": start.isoformat(),
        "end": (start + dt.timedelta(minutes=minutes)).isoformat(),
        "capacity": capacity,
        "fee_fen": fee_fen,
    }


@pytest.fixture
def publish(his):
    """``publish(slots, day, hospital="NT01") -> response``: the HIS publishes 王医生's slots of 心内科."""

    def _publish(slots, day, hospital="NT01", doctor="王医生"):
        body = {"department": "心内科", "doctor": doctor, "date": day.isoformat(), "slots": slots}
        return his.at(hospital).open("/his/v1/schedules", json=body)

    return _publish


@pytest.fixture
def hospital_id(client, login):
    def _id(code="NT01"):
        token = login("o-b-looker")
        found = client.get("/api/v1/hospitals", headers=bearer(token)).get_json()["hospitals"]
        return next(h["id"] for h in found if h["code"] == code)

    return _id


@pytest.fixture
def book(client):
    """``book(token, patient_id, hospital_id, his_slot_id, key) -> response``."""

    def _book(token, patient_id, hospital, his_slot_id, key="book-key-0001"):
        body = {"patient_id": patient_id, "hospital_id": hospital, "his_slot_id": his_slot_id}
        return client.post("/api/v1/appointments", json=body, headers=bearer(token) | {"Idempotency-Key": key})

    return _book


@pytest.fixture
def family(person, bind, phone):
    """An elder (phone ELDER_PHONE on her account) and her son (SON_PHONE), bound with view, pay and book."""
    elder_token, elder = person("o-b-elder", name="钱母", birth="19480101")
    son_token, son = person("o-b-son", name="钱子")
    phone(elder_token, ELDER_PHONE)
    phone(son_token, SON_PHONE)
    bind(son_token, elder_token, elder, permissions=["view", "pay", "book"])
    return {"elder": elder_token, "son": son_token, "elder_patient": elder, "son_patient": son}
