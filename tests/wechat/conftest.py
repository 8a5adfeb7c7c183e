"""A merchant's notify endpoint for the WeChat Pay tests: a plain WSGI server that keeps what it is sent."""

import threading

import pytest
from werkzeug.serving import make_server


class Inbox:
    def __init__(self):
        self.received = []
        self.server = make_server("127.0.0.1", 0, self, threaded=True)
        self.url = "http://127.0.0.1:%d/notify" % self.server.server_port

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        self.received.append((headers, body))
        start_response("204 No Content", [])
        return [b""]

    def last(self):
        return self.received[-1]


@pytest.fixture
def inbox():
    box = Inbox()
    thread = threading.Thread(target=box.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield box
    box.server.shutdown()
    thread.join(5)
