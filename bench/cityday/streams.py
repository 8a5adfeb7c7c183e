"""The one place P6 handles live-accompany streams (``GET /api/v1/visits/{id}/events``, R16).

A watcher opens the stream, signals when the server has subscribed (the response's headers
come after the subscription), and reports each event frame it receives as a locust request
``frame: HIS event -> subscriber`` whose time is the frame's arrival minus the moment the HIS
started posting the event (``detail.t``, same clock: same machine). It stops at
``visit_finished``, or when the visit closes it (a grace period after its last event was
posted), reporting the frames it never got as failures (``lost <event>``).

Nothing here depends on how the server holds a stream (a gthread thread today, a greenlet
tomorrow): only the client's view of the endpoint.
"""

import json
import time

import gevent
import gevent.event
import requests
import sseclient

OPEN = "stream: GET /api/v1/visits/{id}/events"
FRAME = "frame: HIS event -> subscriber"
LOST = "frame: lost (never arrived)"  # failures only: no time of their own in the percentiles


class Watcher:
    def __init__(self, fire, base, token, visit_id, expected):
        self.fire, self.base, self.token, self.visit_id = fire, base, token, visit_id
        self.expected = set(expected)
        self.ready = gevent.event.Event()
        self.failed = None
        self.greenlet = gevent.spawn(self._run)

    def _run(self):
        start = time.perf_counter()
        url = "%s/api/v1/visits/%s/events" % (self.base, self.visit_id)
        headers = {"Authorization": "Bearer " + self.token, "Accept": "text/event-stream"}
        try:
            resp = requests.get(url, headers=headers, stream=True, timeout=(10, 30))
        except requests.RequestException as e:
            return self._refused(start, e)
        if resp.status_code != 200:
            return self._refused(start, RuntimeError("%d %s" % (resp.status_code, resp.text[:200])))
        self.fire(request_type="GET", name=OPEN, response_time=(time.perf_counter() - start) * 1000, response_length=0)
        self.ready.set()
        try:
            for event in sseclient.SSEClient(resp).events():
                if self._frame(event):
                    break
        except gevent.GreenletExit:
            pass  # closed by the visit: what has not come by now is lost
        except Exception as e:  # a broken stream: the frames it still owed are lost
            self.failed = e
        finally:
            resp.close()
        for kind in sorted(self.expected):
            self.fire(
                request_type="SSE",
                name=LOST,
                response_time=0,
                response_length=0,
                exception=RuntimeError("lost " + kind),
            )

    def _frame(self, event):
        """True at the visit's last event."""
        if not event.data or event.event in ("message", "revoked"):
            return event.event == "revoked"
        arrived = time.time()
        data = json.loads(event.data)
        sent = (data.get("detail") or {}).get("t")
        if data.get("type") in self.expected and sent is not None:
            self.expected.discard(data["type"])
            self.fire(
                request_type="SSE", name=FRAME, response_time=(arrived - sent) * 1000, response_length=len(event.data)
            )
        return not self.expected

    def _refused(self, start, error):
        self.failed = error
        self.fire(
            request_type="GET",
            name=OPEN,
            response_time=(time.perf_counter() - start) * 1000,
            response_length=0,
            exception=error,
        )
        self.expected.clear()  # not counted twice: the stream's failure is the error
        self.ready.set()

    def close(self, grace):
        """After the visit's last event: ``grace`` seconds for its frames, then the stream is closed."""
        self.greenlet.join(grace)
        if not self.greenlet.dead:
            self.greenlet.kill()
