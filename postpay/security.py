"""Field encryption (AES-256-GCM), blind indexes, masking and bearer tokens.

One master key, ``POSTPAY_DATA_KEY`` (base64, 32 bytes), is split with HKDF into
an encryption key and a blind-index key, so an index value reveals nothing
about the ciphertext key. Each field kind is bound into the ciphertext as
associated data: a phone ciphertext cannot be passed off as an identity number.
"""

import base64
import hashlib
import hmac
import os
import re
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy.types import String, TypeDecorator

VERSION = "v1"


def _derive(master, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def _keys():
    """(encryption key, index key) for the current app, derived once."""
    keys = current_app.extensions.get("postpay_keys")
    if keys is None:
        master = base64.b64decode(current_app.config["POSTPAY_DATA_KEY"])
        if len(master) != 32:
            raise RuntimeError("POSTPAY_DATA_KEY must be base64 of 32 bytes")
        keys = (_derive(master, b"postpay field encryption"), _derive(master, b"postpay blind index"))
        current_app.extensions["postpay_keys"] = keys
    return keys


def encrypt(plaintext, kind):
    """Encrypt ``plaintext`` (str) for field ``kind``; returns ``v1:<base64 nonce+ciphertext>``."""
    nonce = os.urandom(12)
    sealed = AESGCM(_keys()[0]).encrypt(nonce, plaintext.encode(), kind.encode())
    return "%s:%s" % (VERSION, base64.b64encode(nonce + sealed).decode())


def decrypt(token, kind):
    """Reverse :func:`encrypt`. Raises ``cryptography.exceptions.InvalidTag`` on tampering."""
    version, _, data = token.partition(":")
    if version != VERSION:
        raise ValueError("unknown ciphertext version")
    raw = base64.b64decode(data)
    return AESGCM(_keys()[0]).decrypt(raw[:12], raw[12:], kind.encode()).decode()


def blind_index(value, kind):
    """A keyed, deterministic digest of ``value`` to look a row up by an encrypted field."""
    msg = ("%s:%s" % (kind, value)).encode()
    return hmac.new(_keys()[1], msg, hashlib.sha256).hexdigest()


class Encrypted(TypeDecorator):
    """A string column stored encrypted; reads and writes plaintext in Python."""

    impl = String(255)
    cache_ok = True

    def __init__(self, kind, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(value, self.kind)

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value, self.kind)


def mask_id_number(value):
    """``320601********1234``: region code and last four only."""
    if not value:
        return value
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value):
    """``138****5678``."""
    if not value:
        return value
    return value[:3] + "****" + value[-4:]


def mask_name(value):
    """``张*``, ``张*丰``: the family name and, for long names, the last character."""
    if not value or len(value) < 2:
        return value
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_PHONE_RE = re.compile(r"(?<![0-9A-Za-z])(1[3-9]\d)\d{4}(\d{4})(?![0-9A-Za-z])")
#: A payAuthNo (userQuery's ``AUTH...``, with digits in it): never logged, masked if it slips in.
_PAY_AUTH_RE = re.compile(r"(?<![0-9A-Za-z])AUTH(?=[0-9A-Za-z]*\d)[0-9A-Za-z]{8,}")


def mask_text(text):
    """Mask every identity number, mobile number and payAuthNo found in free text (log lines)."""
    text = _PAY_AUTH_RE.sub("AUTH********", text)
    text = _ID_RE.sub(lambda m: m.group(1) + "********" + m.group(2), text)
    return _PHONE_RE.sub(lambda m: m.group(1) + "****" + m.group(2), text)


def new_id(prefix):
    """An opaque, unguessable resource id such as ``pt_3kq...``."""
    return "%s_%s" % (prefix, secrets.token_urlsafe(12).replace("-", "x").replace("_", "y"))


def new_token():
    """A random bearer token for the mini-program."""
    return secrets.token_urlsafe(32)


def token_digest(token):
    """What Redis stores in place of a bearer token."""
    return hashlib.sha256(token.encode()).hexdigest()
