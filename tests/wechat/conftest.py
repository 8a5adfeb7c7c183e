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


#: Payer openids the WeChat Pay tests send straight to the sandbox: minted by the mini-program
#: (jscode2session) first, as a real payer's are, since WeChat Pay refuses an openid its appid never gave out.
PAYERS = ("o-sp-user", "o", "o-rules", "o-sdk", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "o4GgauInH_RCEdvrrNGrntXDuXXX")


@pytest.fixture(autouse=True)
def minted_payers(request):
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    client = app.test_client()
    for openid in PAYERS:
        mint_openid(client, app, openid)


def mint_openid(client, app, openid):
    """``openid`` signs in to the mini-program once (wx.login, then jscode2session at the sandbox)."""
    code = client.post("/sandbox/wechat/login-codes", json={"openid": openid}).get_json()["code"]
    query = {"appid": app.config["SANDBOX_WECHAT_APPID"], "secret": app.config["SANDBOX_WECHAT_SECRET"]}
    answer = client.get("/sandbox/wechat/api/sns/jscode2session", query_string=query | {"js_code": code}).get_json()
    assert answer["openid"] == openid
