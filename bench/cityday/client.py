"""What P6's locustfile uses beside the visit itself: WeChat Pay's side (a notification signed as
WeChat signs it, with the sandbox's keys), the list of notified payments for the ledger check,
and the HTTP adapter that resends a request once on a keep-alive connection the server closed."""

import os
import random

import requests
from requests.adapters import HTTPAdapter

_app = None


def app():
    """The app, only for the sandbox's keys: a WeChat Pay notification signed as WeChat signs it."""
    global _app
    if _app is None:
        from app import create_app

        _app = create_app()
    return _app


def notification(mchid, out_trade_no, total):
    from bench.common import partner_transaction
    from wechat.sandbox.pay_notify import notification as signed

    with app().test_request_context():
        tx = partner_transaction(app(), mchid, out_trade_no, "4200%018d" % random.randrange(10**18), total)
        return signed("TRANSACTION.SUCCESS", "支付成功", "transaction", tx)


def notified(out_trade_no):
    """The ledger check's list of payments whose notification the service answered 2xx."""
    with open(os.environ["CITYDAY_NOTIFIED"], "a") as f:
        f.write(out_trade_no + "\n")


class Failed(Exception):
    pass


class Adapter(HTTPAdapter):
    """A pooled connection the server closed while idle (gunicorn's 5 s keep-alive) fails the next
    request on it before anything was answered (closed or reset): sent again once on a fresh
    connection, as HTTP clients do, and counted (``stale_keepalive_retries`` in the report)."""

    retries = 0

    def send(self, request, **kw):
        try:
            return super().send(request, **kw)
        except requests.ConnectionError as e:
            if "RemoteDisconnected" not in repr(e) and "Connection reset by peer" not in repr(e):
                raise
            Adapter.retries += 1
            return super().send(request, **kw)
