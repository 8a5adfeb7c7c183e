"""P6 (issue 21): a city's outpatient day replayed with locust. See bench/cityday/model.py for
the figures and bench/cityday/drive.py for the run; this file is what one visit sends.

Open model: each locust process starts visits at its share of the arrival rate, whatever the
answers take (no coordinated omission); each visit is its own greenlet. Requests round-robin
over the instances (``--host`` "http://a,http://b").

    CITYDAY_CITY=city.json CITYDAY_MULTIPLE=2 CITYDAY_OUT=stats.json \\
        locust -f bench/cityday/locustfile.py --headless -u 1 -t 120s --host http://127.0.0.1:8101,http://127.0.0.1:8102
"""

import itertools
import json
import os
import random
import secrets
import sys
import time

import gevent
from locust import User, events, task

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from locust.clients import HttpSession  # noqa: E402
from locust.runners import WorkerRunner  # noqa: E402

from bench.cityday import model, report  # noqa: E402
from bench.cityday.client import Adapter, Failed, notification, notified  # noqa: E402
from bench.cityday.streams import Watcher  # noqa: E402
from postpay.his.signing import sign  # noqa: E402
from postpay.his.simulate import CATALOGUE, DEPARTMENTS  # noqa: E402

CITY = json.load(open(os.environ["CITYDAY_CITY"], encoding="utf-8"))
MULTIPLE = float(os.environ.get("CITYDAY_MULTIPLE", "2"))
VISIT_SECONDS = float(os.environ.get("CITYDAY_VISIT_SECONDS", model.VISIT_SECONDS))
RUN = os.environ.get("CITYDAY_RUN", "r0")
SLOT_START = int(os.environ.get("CITYDAY_SLOT_START", "0"))
GRACE = 10  # s after the last event for its frames
SECONDS = float(os.environ.get("CITYDAY_SECONDS", "60"))


class CityDay(User):
    """One per locust process: it starts visits at the process's share of the arrival rate."""

    def on_start(self):
        self.hosts = self.host.split(",")
        #: Where each instance serves its streams (its stream gunicorn in the production layout).
        self.streams_at = dict(
            zip(self.hosts, os.environ.get("CITYDAY_STREAM_HOSTS", self.host).split(","), strict=True)
        )
        self.turn = itertools.count()
        self.http = {}
        for host in self.hosts:
            session = HttpSession(host, self.environment.events.request, self)
            session.mount("http://", Adapter(pool_connections=4, pool_maxsize=1000))
            self.http[host] = session
        runner = self.environment.runner
        self.index = getattr(runner, "worker_index", 0) or 0
        self.processes = int(os.environ.get("CITYDAY_PROCESSES", "1"))
        self.slots = itertools.count(SLOT_START + self.index, self.processes)

    def host_(self):
        return self.hosts[next(self.turn) % len(self.hosts)]

    @task
    def arrivals(self):
        """Visits for CITYDAY_SECONDS, then the ones under way finish (their payments notified)."""
        gap = self.processes / model.visits_per_second(MULTIPLE)
        at = start = time.monotonic()
        visits = []
        while at - start < SECONDS:
            visits.append(gevent.spawn(self.visit, next(self.slots)))
            at += gap
            gevent.sleep(max(0, at - time.monotonic()))
        gevent.joinall(visits, timeout=VISIT_SECONDS + 60)
        if self.processes == 1:
            self.environment.runner.quit()
        gevent.sleep(3600)  # with several processes, locust's own -t ends the run

    # -- one visit --------------------------------------------------------------------------

    def visit(self, slot):
        patients, hospitals = CITY["patients"], CITY["hospitals"]
        person = patients[slot % len(patients)]
        hospital = hospitals[(slot // len(patients)) % len(hospitals)]
        rng = random.Random(slot)
        no = "%s-%s-%06d" % (hospital["code"], RUN, slot)
        try:
            self._visit(rng, person, hospital, no)
        except Failed:
            pass  # already reported as the failed request

    def _visit(self, rng, person, hospital, no):
        step = VISIT_SECONDS / (len(model.EVENTS) + model.ITEM_BATCHES)
        department, doctor = rng.choice(DEPARTMENTS)
        answer = self.his(
            hospital,
            "POST",
            "/his/v1/visits",
            "POST /his/v1/visits",
            {
                "his_visit_no": no,
                "patient": {"name": person["name"], "id_number": person["id_number"]},
                "department": department,
                "doctor": doctor,
                "registered_at": self.now(),
            },
        )
        if not answer["postpay"]:
            raise self.fail("his", "registration not post-pay: %s" % answer["reasons"])
        visit_id, bill_id = answer["visit_id"], answer["bill_id"]
        watchers = [
            Watcher(self.environment.events.request.fire, self.streams_at[self.host_()], token, visit_id, model.EVENTS)
            for token in (person["token"], person["relative_token"])
        ]
        for w in watchers:
            w.ready.wait(15)
        catalogue = rng.sample(CATALOGUE, rng.randint(model.ITEM_BATCHES, 6))
        batches = [catalogue[k :: model.ITEM_BATCHES] for k in range(model.ITEM_BATCHES)]
        items, events_ = [], list(model.EVENTS)
        for k in range(len(events_) + model.ITEM_BATCHES):
            gevent.sleep(step * rng.uniform(0.7, 1.3))
            if k in (1, 3, 5):  # items after check-in, after the call, after the samples
                batch = self.items(rng, no, len(items), batches[(k - 1) // 2])
                items += self.his(
                    hospital, "POST", "/his/v1/visits/%s/items" % no, "POST /his/v1/visits/{no}/items", {"items": batch}
                )["items"]
            else:
                type_ = events_.pop(0)
                self.his(
                    hospital,
                    "POST",
                    "/his/v1/visits/%s/events" % no,
                    "POST /his/v1/visits/{no}/events",
                    {"type": type_, "at": self.now(), "detail": {"t": time.time()}},
                )
            if k == 4:
                self.outstanding(person)  # while waiting for the report
        for w in watchers:
            w.close(GRACE)
        self.outstanding(person)
        deferred = [i for i in items if i["deferred"]]
        if not deferred or not bill_id:
            return
        if rng.random() < model.DISPUTE_SHARE:
            self.call(
                "payment",
                "POST",
                "/api/v1/bills/%s/disputes" % bill_id,
                "POST /api/v1/bills/{id}/disputes",
                person["relative_token"],
                {"item_ids": [deferred[-1]["item_id"]], "reason": "未做检查"},
                201,
            )
        self.outstanding(person)
        void = rng.random() < model.VOID_SHARE
        if person["insured"]:
            self.pay_insured(person, bill_id)
        else:
            self.pay(person, hospital, bill_id, through_sandbox=void)
        if void:
            self.his(
                hospital,
                "POST",
                "/his/v1/visits/%s/items/%s/void" % (no, deferred[0]["his_item_no"]),
                "POST /his/v1/visits/{no}/items/{item}/void",
                {"reason": "患者放弃"},
            )

    def items(self, rng, no, first, picks):
        out = []
        for k, (category, name, price, quantities) in enumerate(picks):
            quantity = rng.choice(quantities)
            out.append(
                {
                    "his_item_no": "%s-%02d" % (no, first + k + 1),
                    "category": category,
                    "name": name,
                    "quantity": quantity,
                    "unit_price_fen": price,
                    "amount_fen": int((quantity * 1000 * price + 500) // 1000),
                }
            )
        return out

    def outstanding(self, person):
        self.call("read", "GET", "/api/v1/bills/outstanding", "GET /api/v1/bills/outstanding", person["relative_token"])

    def pay(self, person, hospital, bill_id, through_sandbox=False):
        """The notification signed here, as WeChat signs it; or, for a bill whose item will be voided
        (refunded at WeChat, which must then know the order as paid), the sandbox's payer sends it."""
        token = person["relative_token"]
        asked = {"bill_ids": [bill_id]}
        paid = self.call("payment", "POST", "/api/v1/payments", "POST /api/v1/payments", token, asked, 201, key=True)
        paid = paid["payment"]
        no = paid["out_trade_no"]
        if through_sandbox:
            name = "POST /sandbox/.../orders/{no}/pay (-> /wechat/pay/notify)"
            answer = self.request("notify", "POST", "/sandbox/wechatpay/orders/%s/pay" % no, name, json={})
            if not answer.get("delivered"):
                raise self.fail("notify", "notification not applied: %s" % answer)
        else:
            headers, body = notification(hospital["mchid"], no, paid["total_fen"])
            name = "POST /wechat/pay/notify"
            ok = (200, 204)
            self.request("notify", "POST", "/wechat/pay/notify", name, data=body.encode(), headers=headers, expect=ok)
        notified(no)

    def pay_insured(self, person, bill_id):
        token = person["relative_token"]
        quoted = self.call(
            "payment",
            "POST",
            "/api/v1/insurance-settlements",
            "POST /api/v1/insurance-settlements",
            token,
            {"bill_ids": [bill_id]},
            201,
            key=True,
        )["settlement"]
        self.call(
            "payment",
            "POST",
            "/api/v1/insurance-settlements/%s/confirm" % quoted["id"],
            "POST /api/v1/insurance-settlements/{id}/confirm",
            token,
            {},
            200,
        )
        answer = self.request(
            "notify",
            "POST",
            "/sandbox/wechatpay/med-ins/orders/%s/pay" % quoted["out_trade_no"],
            "POST /sandbox/.../med-ins/orders/{no}/pay (-> /wechat/pay/med-ins-notify)",
            json={},
        )
        if not answer.get("delivered"):
            raise self.fail("notify", "med-ins notification not applied: %s" % answer)
        notified(quoted["out_trade_no"])

    # -- HTTP -------------------------------------------------------------------------------

    @staticmethod
    def now():
        return time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(time.time() + 8 * 3600))

    def his(self, hospital, method, path, name, body):
        raw = json.dumps(body, ensure_ascii=False).encode()
        ts, nonce = str(int(time.time())), secrets.token_hex(12)
        headers = {
            "Content-Type": "application/json",
            "X-Hospital-Id": hospital["code"],
            "X-Timestamp": ts,
            "X-Nonce": nonce,
            "X-Signature": sign(hospital["secret"], method, path, ts, nonce, raw),
        }
        return self.request("his", method, path, name, data=raw, headers=headers)

    def call(self, cls, method, path, name, token, body=None, expect=200, key=False):
        headers = {"Authorization": "Bearer " + token}
        if key:
            headers["Idempotency-Key"] = "cd-" + secrets.token_hex(12)
        return self.request(cls, method, path, name, json=body, headers=headers, expect=(expect,))

    def request(self, cls, method, path, name, expect=(200,), **kw):
        session = self.http[self.host_()]
        with session.request(method, path, name="%s: %s" % (cls, name), catch_response=True, timeout=30, **kw) as r:
            if r.status_code not in expect:
                r.failure("%s %s" % (r.status_code, (r.text or "")[:160] or repr(r.error)[:160]))
                raise Failed()
            try:
                return r.json() if r.content else {}
            except ValueError:
                return {}

    def fail(self, cls, message):
        self.environment.events.request.fire(
            request_type="CHECK",
            name="%s: outcome" % cls,
            response_time=0,
            response_length=0,
            exception=Failed(message),
        )
        return Failed(message)


@events.test_stop.add_listener
def _report(environment, **_):
    """Per route class: p50, p99, requests and errors, into CITYDAY_OUT (on the master, or alone)."""
    if isinstance(environment.runner, WorkerRunner):
        return
    out = os.environ.get("CITYDAY_OUT")
    if out:
        with open(out, "w", encoding="utf-8") as f:
            json.dump(report.classes(environment.stats, Adapter.retries), f, ensure_ascii=False, indent=1)
