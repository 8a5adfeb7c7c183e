"""National medical-insurance mobile-payment platform: the envelope, 1101 and the e-voucher.

Every request and answer travels in one envelope::

    {"appId", "version", "timestamp", "encType": "SM4", "signType": "SM2",
     "encData": hex(SM4-ECB(data JSON)), "signData": base64(SM2 r||s)}

- The SM4 data key: appSecret encrypted with SM4-ECB under the first 16 bytes
  of appId; the first 16 characters of that upper-case hex are the key.
- The signature: SM2 with SM3 (user id ``1234567812345678``) over the fields
  sorted by name, ``signData``/``encData``/``extra`` left out, empty ones left
  out, ``data`` as its sorted compact JSON, joined ``k=v&...`` and followed by
  ``&key=<appSecret>``. The receiver decrypts first, then verifies.

Amounts at this boundary are yuan with two decimals (see the settlement issue).
"""

import base64
import datetime as dt
import functools
import json
import secrets
import time

import requests
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from gmssl import sm2

VERSION = "2.0.1"
SM2_N = int(sm2.default_ecc_table["n"], 16)

#: National codes (insutype, psn_insu_stas) and ours.
INSURANCE_TYPES = {"310": "employee", "390": "resident"}
INSURED_STATUS = {"1": "normal", "2": "suspended", "4": "terminated"}
#: 1101's 就诊凭证类型 (mdtrt_cert_type): 医保电子凭证, 居民身份证.
E_VOUCHER, ID_CARD = "01", "02"
#: What ``person_info`` raises when 1101 itself refuses (infcode not 0): unknown person, wrong name.
REFUSED_1101 = "1101"
#: The platform's answer code for an unknown, expired or used authorization code.
BAD_AUTH_CODE = "2001"
#: China time, in which the platform writes its times.
CST = dt.timezone(dt.timedelta(hours=8))


class MedinsError(Exception):
    """The platform refused the call, or its answer failed the envelope checks."""

    def __init__(self, code, message):
        super().__init__("%s %s" % (code, message))
        self.code = code
        self.message = message


def _sm2(private_key, public_key):
    """gmssl's SM2 with the public key as given: its constructor ``lstrip("04")``s the key,
    which mangles every key whose hex starts with 0 or 4 (about one in eight)."""
    crypt = sm2.CryptSM2(private_key=private_key, public_key="")
    crypt.public_key = public_key
    return crypt


@functools.lru_cache(maxsize=16)
def public_key_of(private_key):
    """The 128-hex ``x||y`` public key gmssl uses, for a private key in hex."""
    return sm2.CryptSM2(private_key=private_key, public_key="")._kg(int(private_key, 16), sm2.default_ecc_table["g"])


def generate_sm2_keypair():
    """``(private_hex, public_hex)``."""
    private = "%064x" % (secrets.randbelow(SM2_N - 2) + 1)
    return private, public_key_of(private)


def _sm4(key, data, encrypt):
    cipher = Cipher(algorithms.SM4(key), modes.ECB())
    if encrypt:
        padder = padding.PKCS7(128).padder()
        data = padder.update(data) + padder.finalize()
        op = cipher.encryptor()
        return op.update(data) + op.finalize()
    op = cipher.decryptor()
    plain = op.update(data) + op.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(plain) + unpadder.finalize()


def data_key(app_id, app_secret):
    """The SM4 key both sides derive from appId and appSecret."""
    return _sm4(app_id.encode()[:16].ljust(16, b"0"), app_secret.encode(), True).hex().upper()[:16].encode()


def _canonical(value):
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def sign_string(fields, data, app_secret):
    """The text that is signed: sorted fields with the plaintext data, then the secret."""
    items = dict(fields, data=_canonical(data))
    parts = [
        "%s=%s" % (k, items[k])
        for k in sorted(items)
        if k not in ("signData", "encData", "extra") and items[k] not in (None, "")
    ]
    return "&".join(parts) + "&key=" + app_secret


def seal(data, app_id, app_secret, private_key, extra_fields=None, now=None):
    """Wrap ``data`` (a dict) in a signed, encrypted envelope."""
    fields = {
        "appId": app_id,
        "version": VERSION,
        "timestamp": str(int((now or time.time()) * 1000)),
        "encType": "SM4",
        "signType": "SM2",
        **(extra_fields or {}),
    }
    signer = _sm2(private_key, public_key_of(private_key))
    raw_sig = signer.sign_with_sm3(sign_string(fields, data, app_secret).encode(), secrets.token_hex(32))
    enc = _sm4(data_key(app_id, app_secret), _canonical(data).encode(), True).hex().upper()
    return dict(fields, encData=enc, signData=base64.b64encode(bytes.fromhex(raw_sig)).decode())


def unseal(envelope, app_secret, public_key, max_age=300, now=None):
    """Decrypt and verify an envelope; returns its data. Raises MedinsError on any failure."""
    try:
        if envelope.get("encType") != "SM4" or envelope.get("signType") != "SM2":
            raise MedinsError("ENVELOPE", "unsupported encType/signType")
        age = (now or time.time()) - int(envelope["timestamp"]) / 1000
        if abs(age) > max_age:
            raise MedinsError("ENVELOPE", "stale timestamp")
        key = data_key(envelope["appId"], app_secret)
        data = json.loads(_sm4(key, bytes.fromhex(envelope["encData"]), False))
        signature = base64.b64decode(envelope["signData"]).hex()
        fields = {k: v for k, v in envelope.items() if k not in ("code", "message")}
    except MedinsError:
        raise
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise MedinsError("ENVELOPE", "malformed envelope: %s" % type(e).__name__) from None
    verifier = _sm2("", public_key)
    if len(signature) != 128 or not verifier.verify_with_sm3(signature, sign_string(fields, data, app_secret).encode()):
        raise MedinsError("SIGNATURE", "bad SM2 signature")
    return data


class MedinsClient:
    """Our calls to the platform, each in the signed, encrypted envelope."""

    def __init__(self, base_url, app_id, app_secret, private_key, platform_public_key, org_code, timeout=5):
        self.base_url = base_url.rstrip("/")
        self.app_id, self.app_secret = app_id, app_secret
        self.private_key, self.platform_public_key = private_key, platform_public_key
        self.org_code = org_code
        self.timeout = timeout
        self.http = requests.Session()

    def call(self, path, data):
        """POST one envelope and open the answer. Raises MedinsError, requests.RequestException."""
        body = seal(data, self.app_id, self.app_secret, self.private_key)
        resp = self.http.post(self.base_url + path, json=body, timeout=self.timeout)
        try:
            answer = resp.json()
        except ValueError:
            raise MedinsError("HTTP", "HTTP %s without JSON" % resp.status_code) from None
        if str(answer.get("code")) != "0":
            raise MedinsError(str(answer.get("code")), answer.get("message", ""))
        return unseal(answer, self.app_secret, self.platform_public_key)

    def person_info(self, cert_type, cert_no, id_number="", name="", now=None):
        """Transaction 1101 (人员信息获取): the person behind a medical certificate.

        ``cert_type`` ``01`` (医保电子凭证) with ``cert_no`` the payAuthNo of userQuery or a
        kiosk's ecToken. The national message (``infno``, ``msgid``, ``input.data``) travels in
        the envelope to ``/fsi/api/rsfComIfsService/callService``; the answer's ``output`` has
        ``baseinfo`` (psn_no, certno, psn_name) and ``insuinfo`` (one per 险种: insutype,
        psn_insu_stas, insuplc_admdvs).

        Returns ``{"psn_no", "name", "id_number", "insured_region", "insurance_type",
        "insured_status"}``. Raises MedinsError (code ``1101`` when the platform refuses).
        """
        moment = dt.datetime.fromtimestamp(now or time.time(), CST)
        data = {
            "infno": "1101",
            "msgid": "%s%s%04d" % (self.org_code[:12], moment.strftime("%Y%m%d%H%M%S"), secrets.randbelow(10000)),
            "fixmedins_code": self.org_code,
            "input": {
                "data": {
                    "mdtrt_cert_type": cert_type,
                    "mdtrt_cert_no": cert_no,
                    "card_sn": "",
                    "begntime": moment.strftime("%Y-%m-%d %H:%M:%S"),
                    "psn_cert_type": "01",
                    "certno": id_number,
                    "psn_name": name,
                }
            },
        }
        answer = self.call("/fsi/api/rsfComIfsService/callService", data)
        if str(answer.get("infcode")) != "0":
            raise MedinsError(REFUSED_1101, str(answer.get("err_msg", "")))
        try:
            return _person(answer["output"])
        except (KeyError, TypeError, IndexError):
            raise MedinsError("ANSWER", "1101 answer without baseinfo/insuinfo") from None

    def person_by_id_card(self, id_number, name):
        """1101 for a resident identity card (R8): ``mdtrt_cert_type`` 02 with the number as the
        certificate and as ``certno``, and the name on the card; the platform answers only when the
        name is the one it holds. Raises MedinsError (``REFUSED_1101`` for an unknown person or
        another name)."""
        return self.person_info(ID_CARD, id_number, id_number, name)

    def query_ecode(self, ec_qr_code):
        """The person behind an e-voucher QR code scanned at a kiosk (R8): decoded to its
        ecToken (``/ec/query``), then 1101 with it, as for the mini-program's payAuthNo.
        Raises MedinsError (code ``BAD_AUTH_CODE`` for an unknown or used code)."""
        data = {"ecQrCode": ec_qr_code, "orgCodg": self.org_code, "businessType": "01101"}
        found = self.call("/ec/query", data)
        return self.person_info(E_VOUCHER, found["ecToken"], found.get("idNo", ""), found.get("userName", ""))


def _person(output):
    """1101's output in our vocabulary. Of several 险种 the one insured normally wins, the
    employee scheme (which has a personal account) before the resident one."""
    base = output["baseinfo"]
    ranked = sorted(output["insuinfo"], key=lambda i: (i.get("psn_insu_stas") != "1", i.get("insutype") != "310"))
    insu = ranked[0]
    return {
        "psn_no": base["psn_no"],
        "name": base["psn_name"],
        "id_number": base["certno"],
        "insured_region": insu["insuplc_admdvs"],
        "insurance_type": INSURANCE_TYPES.get(insu["insutype"], "other"),
        "insured_status": INSURED_STATUS.get(insu["psn_insu_stas"], "terminated"),
    }
