"""Server-to-server request signing, for the HIS API and the kiosks.

``X-Signature`` = lowercase hex HMAC-SHA256 with the caller's secret over
``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nSHA256_HEX(BODY)``. A timestamp more than
300 s away or a nonce seen before gets 401; nonces are remembered in Redis.
"""

import hashlib
import hmac
import time

from flask import request

from postpay.errors import Unauthorized
from postpay.extensions import redis

WINDOW = 300


def string_to_sign(method, path, timestamp, nonce, body):
    return "\n".join([method.upper(), path, str(timestamp), nonce, hashlib.sha256(body).hexdigest()])


def sign(secret, method, path, timestamp, nonce, body):
    """The signature a caller sends (also used by the HIS simulator and the tests)."""
    message = string_to_sign(method, path, timestamp, nonce, body).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_request(scope, caller_id, secret, now=None):
    """Check the current request's signature headers for ``caller_id`` (whose secret is ``secret``).

    Raises Unauthorized (BAD_SIGNATURE, STALE_REQUEST, REPLAYED_REQUEST).
    """
    timestamp = request.headers.get("X-Timestamp", "")
    nonce = request.headers.get("X-Nonce", "")
    given = request.headers.get("X-Signature", "")
    if secret is None or not timestamp.isdigit() or not (8 <= len(nonce) <= 64):
        raise Unauthorized("签名无效", code="BAD_SIGNATURE")
    expected = sign(secret, request.method, request.path, timestamp, nonce, request.get_data())
    if not hmac.compare_digest(expected, given.lower()):
        raise Unauthorized("签名无效", code="BAD_SIGNATURE")
    if abs((now or time.time()) - int(timestamp)) > WINDOW:
        raise Unauthorized("请求已过期", code="STALE_REQUEST")
    if not redis.set("nonce:%s:%s:%s" % (scope, caller_id, nonce), 1, nx=True, ex=2 * WINDOW):
        raise Unauthorized("重复的请求", code="REPLAYED_REQUEST")


def signed_caller(model, id_header, scope, secret_attr, **filters):
    """The ``model`` row whose ``code`` is in ``id_header``, once the request's signature checks out
    with its ``secret_attr``. Raises Unauthorized."""
    code = request.headers.get(id_header, "")
    row = model.query.filter_by(code=code, **filters).one_or_none() if code else None
    verify_request(scope, code, getattr(row, secret_attr) if row else None)
    return row
