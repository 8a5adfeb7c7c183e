"""A small HIS simulator: drives a realistic outpatient day through the signed HIS API.

Used by ``flask --app app his simulate``, the demo data and the benchmarks. It
talks HTTP to a running service (``--url``) or, without one, to the app in-process
through the WSGI test client: either way every call is signed and goes through
the same views as a real HIS's.
"""

import datetime as dt
import json
import random
import secrets
import time
from urllib.parse import urlencode

import requests

from postpay.accounts.identity import check_digit
from postpay.clock import SHANGHAI
from postpay.his.signing import sign

DEPARTMENTS = [("心内科", "王建华"), ("呼吸内科", "陈静"), ("消化内科", "刘洋"), ("内分泌科", "张敏"), ("眼科", "李明")]
#: (category, name, unit_price_fen, quantity choices)
CATALOGUE = [
    ("lab", "血常规", 2000, [1]),
    ("lab", "肝功能", 6500, [1]),
    ("lab", "血脂四项", 4000, [1]),
    ("exam", "心电图", 3000, [1]),
    ("exam", "胸部CT", 30000, [1]),
    ("exam", "腹部B超", 12000, [1]),
    ("drug", "阿司匹林肠溶片", 1550, [1, 2, 3]),
    ("drug", "阿托伐他汀钙片", 3380, [1, 2]),
    ("drug", "复方甘草口服液", 1260, [1, 0.5]),
    ("herbal", "中药饮片", 1800, [7, 14]),
    ("consumable", "一次性采血针", 150, [1, 2]),
    ("treatment", "雾化吸入", 2500, [1]),
]


class Transport:
    """Signed calls to the HIS API, over HTTP or through a WSGI test client."""

    def __init__(self, code, secret, url=None, client=None):
        self.code, self.secret, self.url, self.client = code, secret, (url or "").rstrip("/"), client
        self.http = requests.Session()

    def post(self, path, body):
        return self.call("POST", path, json.dumps(body, ensure_ascii=False).encode())

    def get(self, path, **query):
        """A signed GET; the query string is part of what is signed, exactly as it is sent."""
        return self.call("GET", path + ("?" + urlencode(query) if query else ""), b"")

    def call(self, method, path, raw):
        """``path`` as it goes on the wire (with its ``?query``): that is what gets signed."""
        ts, nonce = str(int(time.time())), secrets.token_hex(12)
        headers = {
            "Content-Type": "application/json",
            "X-Hospital-Id": self.code,
            "X-Timestamp": ts,
            "X-Nonce": nonce,
            "X-Signature": sign(self.secret, method, path, ts, nonce, raw),
        }
        if self.client is not None:
            resp = self.client.open(path, method=method, data=raw, headers=headers)
            return resp.status_code, resp.get_json()
        resp = self.http.request(method, self.url + path, data=raw, headers=headers, timeout=10)
        return resp.status_code, resp.json()


def _check(status, answer, what):
    if status >= 400:
        raise RuntimeError("%s failed: %s %s" % (what, status, answer))
    return answer


def simulate_visit(transport, patient, day, rng, number, finish=True):
    """One visit from registration to the end; returns the registration answer."""
    start = dt.datetime.combine(day, dt.time(8, 0), SHANGHAI) + dt.timedelta(minutes=rng.randint(0, 210))
    department, doctor = rng.choice(DEPARTMENTS)
    no = "%s-%s-%04d" % (transport.code, day.strftime("%Y%m%d"), number)
    answer = _check(
        *transport.post(
            "/his/v1/visits",
            {
                "his_visit_no": no,
                "patient": {"name": patient["name"], "id_number": patient["id_number"]},
                "department": department,
                "doctor": doctor,
                "registered_at": start.isoformat(),
            },
        ),
        "register " + no,
    )
    moment = start

    def event(type_, minutes, **detail):
        nonlocal moment
        moment += dt.timedelta(minutes=minutes)
        _check(
            *transport.post(
                "/his/v1/visits/%s/events" % no, {"type": type_, "at": moment.isoformat(), "detail": detail}
            ),
            type_,
        )

    event("checked_in", rng.randint(2, 10))
    event("called", rng.randint(5, 40), room="%d诊室" % rng.randint(1, 12))
    items = []
    for k, (category, name, price, quantities) in enumerate(rng.sample(CATALOGUE, rng.randint(2, 6))):
        quantity = rng.choice(quantities)
        amount = int((quantity * 1000 * price + 500) // 1000)
        items.append(
            {
                "his_item_no": "%s-%02d" % (no, k + 1),
                "category": category,
                "name": name,
                "quantity": quantity,
                "unit_price_fen": price,
                "amount_fen": amount,
            }
        )
    _check(*transport.post("/his/v1/visits/%s/items" % no, {"items": items}), "items " + no)
    if any(i["category"] == "lab" for i in items):
        event("sample_collected", rng.randint(5, 20))
    if any(i["category"] == "exam" for i in items):
        event("exam_done", rng.randint(10, 60))
    event("report_ready", rng.randint(20, 90))
    if any(i["category"] == "drug" for i in items):
        event("dispensed", rng.randint(5, 20))
    if finish:
        event("visit_finished", rng.randint(1, 10))
    return answer


def simulate_day(transport, patients, day, visits, seed=0, finish=True):
    """``visits`` visits spread over ``patients``; returns a summary of what the service answered."""
    rng = random.Random(seed)
    answers = [simulate_visit(transport, rng.choice(patients), day, rng, n + 1, finish) for n in range(visits)]
    postpay = sum(1 for a in answers if a["postpay"])
    return {"visits": len(answers), "postpay": postpay, "pay_as_you_go": len(answers) - postpay}


def stranger(rng):
    """A made-up outpatient unknown to the hub (valid identity number)."""
    first17 = "320602%04d%02d%02d%03d" % (
        rng.randint(1940, 2005),
        rng.randint(1, 12),
        rng.randint(1, 28),
        rng.randint(0, 999),
    )
    return {
        "name": rng.choice("赵钱孙李周吴郑王") + rng.choice(["伟", "芳", "娜", "敏", "静", "强", "磊"]),
        "id_number": first17 + check_digit(first17),
    }
