"""The national medical-insurance platform's envelope as the platform documents it, written for
the sandbox with gmssl (SM2, SM3, SM4), not shared with the client in ``wechat.medins``:

    {"appId", "version", "timestamp", "encType": "SM4", "signType": "SM2",
     "encData": hex(SM4-ECB-PKCS7(data JSON)), "signData": base64(SM2 r||s)}

- The SM4 key: appSecret SM4-ECB-encrypted under appId's first 16 bytes (padded with "0");
  the first 16 characters of that upper-case hex.
- The signature: SM2 with SM3 (the default user id ``1234567812345678``) over
  ``k=v&...`` of the fields sorted by name (``signData``, ``encData``, ``extra`` and empty
  ones left out; ``data`` as its sorted compact JSON), then ``&key=<appSecret>``.

Also the platform's vocabulary the sandbox speaks: 险种, 参保状态, amounts in yuan.
"""

import base64
import json
import secrets
import time
from decimal import Decimal, InvalidOperation

from gmssl import sm2, sm4

VERSION = "2.0.1"
#: 险种 (insutype): employee (职工) and resident (居民) basic medical insurance.
EMPLOYEE, RESIDENT = "310", "390"
#: 参保状态 (psn_insu_stas): normal, suspended, terminated.
INSURED_STATES = ("1", "2", "4")
#: The answer code for an unknown, expired or used authorization code.
BAD_AUTH_CODE = 2001


class EnvelopeError(Exception):
    pass


def _sm4(key, data, mode):
    crypt = sm4.CryptSM4()
    crypt.set_key(key, mode)
    return crypt.crypt_ecb(data)


def _key(app_id, app_secret):
    sealed = _sm4(app_id.encode()[:16].ljust(16, b"0"), app_secret.encode(), sm4.SM4_ENCRYPT)
    return sealed.hex().upper()[:16].encode()


def _sm2(private_key="", public_key=""):
    crypt = sm2.CryptSM2(private_key=private_key, public_key="")
    # gmssl's constructor strips a leading "04" even from a bare x||y key: set it as given.
    crypt.public_key = public_key or crypt._kg(int(private_key, 16), sm2.default_ecc_table["g"])
    return crypt


def _compact(value):
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _text(fields, data, app_secret):
    items = dict(fields, data=_compact(data))
    skip = ("signData", "encData", "extra")
    parts = ["%s=%s" % (k, items[k]) for k in sorted(items) if k not in skip and items[k] not in (None, "")]
    return "&".join(parts) + "&key=" + app_secret


def seal(data, app_id, app_secret, private_key):
    fields = {
        "appId": app_id,
        "version": VERSION,
        "timestamp": str(int(time.time() * 1000)),
        "encType": "SM4",
        "signType": "SM2",
    }
    signature = _sm2(private_key).sign_with_sm3(_text(fields, data, app_secret).encode(), secrets.token_hex(32))
    enc = _sm4(_key(app_id, app_secret), _compact(data).encode(), sm4.SM4_ENCRYPT).hex().upper()
    return dict(fields, encData=enc, signData=base64.b64encode(bytes.fromhex(signature)).decode())


def unseal(envelope, app_secret, public_key, max_age=300):
    """The data of a request envelope, decrypted and verified. Raises EnvelopeError."""
    try:
        if envelope.get("encType") != "SM4" or envelope.get("signType") != "SM2":
            raise EnvelopeError("encType/signType不支持")
        if abs(time.time() - int(envelope["timestamp"]) / 1000) > max_age:
            raise EnvelopeError("时间戳过期")
        plain = _sm4(_key(envelope["appId"], app_secret), bytes.fromhex(envelope["encData"]), sm4.SM4_DECRYPT)
        data = json.loads(plain)
        signature = base64.b64decode(envelope["signData"]).hex()
    except EnvelopeError:
        raise
    except (KeyError, ValueError, TypeError, AttributeError, IndexError):
        raise EnvelopeError("报文格式错误") from None
    fields = {k: v for k, v in envelope.items() if k not in ("code", "message")}
    if len(signature) != 128 or not _sm2(public_key=public_key).verify_with_sm3(
        signature, _text(fields, data, app_secret).encode()
    ):
        raise EnvelopeError("签名错误")
    return data


def fen(yuan_amount):
    """The platform's yuan (a string or an int, two decimals at most) -> integer fen. Raises ValueError."""
    if isinstance(yuan_amount, (bool, float)) or not isinstance(yuan_amount, (str, int)):
        raise ValueError("amount")
    try:
        value = Decimal(str(yuan_amount).strip())
        exact = value.is_finite() and value == value.quantize(Decimal("0.01"))
    except InvalidOperation:  # not a number, or too large to quantize
        exact = False
    if not exact:
        raise ValueError("amount")
    return int(value * 100)


def yuan(fen_amount):
    """Integer fen -> yuan with two decimals, as the platform writes it."""
    return str((Decimal(fen_amount) / 100).quantize(Decimal("0.01")))
