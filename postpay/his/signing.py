"""Server-to-server request signing, for the HIS API and the kiosks.

``X-Signature`` = lowercase hex HMAC-SHA256 with the caller's secret over
``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nSHA256_HEX(BODY)``, where PATH carries
``?QUERY`` exactly as sent (the raw query string) when there is one, so a query cannot be
altered or added after signing. A timestamp more than 300 s away or a nonce seen before
gets 401; nonces are remembered in Redis. The headers must match strict ASCII patterns
(anything else is a bad signature), so no odd value reaches the comparison or ``int()``.
"""

import hashlib
import hmac
import re
import time

from flask import request

from postpay.errors import Unauthorized
from postpay.extensions import redis

WINDOW = 300
TIMESTAMP = re.compile(r"[0-9]{1,12}")
NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")
SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")


def string_to_sign(method, path, timestamp, nonce, body):
    return "\n".join([method.upper(), path, str(timestamp), nonce, hashlib.sha256(body).hexdigest()])


def sign(secret, method, path, timestamp, nonce, body):
    """The signature a caller sends (also used by the HIS simulator and the tests); ``path``
    with ``?query`` as it goes on the wire when there is one."""
    message = string_to_sign(method, path, timestamp, nonce, body).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_request(scope, caller_id, secret, now=None):
    """Check the current request's signature headers for ``caller_id`` (whose secret is ``secret``).

    Raises Unauthorized (BAD_SIGNATURE, STALE_REQUEST, REPLAYED_REQUEST).
    """
    timestamp = request.headers.get("X-Timestamp", "")
    nonce = request.headers.get("X-Nonce", "")
    given = request.headers.get("X-Signature", "")
    well_formed = all(p.fullmatch(v) for p, v in ((TIMESTAMP, timestamp), (NONCE, nonce), (SIGNATURE, given)))
    if secret is None or not well_formed:
        raise Unauthorized("签名无效", code="BAD_SIGNATURE")
    expected = sign(secret, request.method, signed_path(), timestamp, nonce, request.get_data())
    if not hmac.compare_digest(expected, given.lower()):
        raise Unauthorized("签名无效", code="BAD_SIGNATURE")
    if abs((now or time.time()) - int(timestamp)) > WINDOW:
        raise Unauthorized("请求已过期", code="STALE_REQUEST")
    if not redis.set("nonce:%s:%s:%s" % (scope, caller_id, nonce), 1, nx=True, ex=2 * WINDOW):
        raise Unauthorized("重复的请求", code="REPLAYED_REQUEST")


def signed_path():
    """The request's path, with ``?`` and the raw query string when there is one. Raw bytes that are
    not UTF-8 (a client should percent-encode) cannot match any signature."""
    if not request.query_string:
        return request.path
    return "%s?%s" % (request.path, request.query_string.decode("utf-8", "replace"))


def signed_caller(model, id_header, scope, secret_attr, **filters):
    """The ``model`` row whose ``code`` is in ``id_header``, once the request's signature checks out
    with its ``secret_attr``. Raises Unauthorized."""
    code = request.headers.get(id_header, "")
    row = model.query.filter_by(code=code, **filters).one_or_none() if code else None
    verify_request(scope, code, getattr(row, secret_attr) if row else None)
    return row
