"""WeChat Pay API v3 signatures as WeChat checks and makes them, written for the sandbox from
the API reference (签名生成, 签名验证), not shared with the client in ``wechat.pay``.

- A merchant request carries ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="..",
  nonce_str="..",signature="..",timestamp="..",serial_no=".."``. The signature is
  SHA256withRSA (PKCS#1 v1.5) over ``METHOD\\nURL\\nTIMESTAMP\\nNONCE\\nBODY\\n``, where URL
  is the absolute path from ``/v3`` with its query, as the request line names it.
- A sensitive request field (敏感信息加密) is RSAES-OAEP (SHA-1, MGF1 SHA-1) with the WeChat Pay
  public key, base64; the platform opens it with its private key (:func:`decrypt_field`).
- An answer or a notification carries ``Wechatpay-Timestamp``, ``Wechatpay-Nonce``,
  ``Wechatpay-Serial``, ``Wechatpay-Signature(-Type)``, the signature over
  ``TIMESTAMP\\nNONCE\\nBODY\\n`` with the platform key.
"""

import base64
import re
import secrets
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP, PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA1, SHA256

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
MAX_SKEW = 300
#: One ``key="value"`` pair of the Authorization header.
PAIR = re.compile(r'\s*([a-z_]+)="([^"]*)"\s*')
FIELDS = {"mchid", "nonce_str", "signature", "timestamp", "serial_no"}


def parse_authorization(header):
    """The five fields of a merchant's Authorization header, or None when it is not one."""
    scheme, _, rest = (header or "").partition(" ")
    if scheme != SIGNATURE_TYPE:
        return None
    fields = {}
    for part in rest.split(","):
        match = PAIR.fullmatch(part)
        if not match:
            return None
        fields[match.group(1)] = match.group(2)
    return fields if set(fields) == FIELDS else None


def verify_request(fields, public_key, method, url, body, now=None):
    """True when ``fields`` (parsed Authorization) sign this request with ``public_key``."""
    if not fields["timestamp"].isdigit() or abs((now or time.time()) - int(fields["timestamp"])) > MAX_SKEW:
        return False
    message = "%s\n%s\n%s\n%s\n%s\n" % (method, url, fields["timestamp"], fields["nonce_str"], body)
    try:
        public_key.verify(base64.b64decode(fields["signature"], validate=True), message.encode(), PKCS1v15(), SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def sign(private_key, message):
    return base64.b64encode(private_key.sign(message.encode(), PKCS1v15(), SHA256())).decode()


def signed_headers(private_key, key_id, body):
    """WeChat's signature headers over an answer's or a notification's body (str)."""
    ts, nonce = str(int(time.time())), secrets.token_hex(16)
    return {
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Serial": key_id,
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
        "Wechatpay-Signature": sign(private_key, "%s\n%s\n%s\n" % (ts, nonce, body)),
    }


def decrypt_field(private_key, value):
    """A sensitive field as WeChat opens it; None when it does not decrypt."""
    try:
        plain = private_key.decrypt(base64.b64decode(value), OAEP(mgf=MGF1(SHA1()), algorithm=SHA1(), label=None))
        return plain.decode("utf-8")
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
