"""Tencent Cloud API 3.0 request signing (TC3-HMAC-SHA256) and an SMS ``SendSms`` client.

The signer follows Tencent Cloud's "签名方法 v3" document step by step, one small function
per step so tests can hold each against the document's worked example. The current
document signs ``content-type;host;x-tc-action``, older revisions ``content-type;host``:
``tc3_sign`` does the former, or the latter with ``sign_action=False``.
Only the standard library and ``requests``; this package never imports ``postpay``.
"""

import hashlib
import hmac
import json
import logging
import re
import time
from datetime import datetime, timezone
from urllib.parse import urlparse

import requests

from wechat import sms

log = logging.getLogger(__name__)

ALGORITHM = "TC3-HMAC-SHA256"
JSON_CT = "application/json; charset=utf-8"


def sha256_hex(text):
    """Lowercase hex SHA-256 of ``text`` as UTF-8. Raises AttributeError if not a str."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def credential_scope(timestamp, service):
    """``{UTC date}/{service}/tc3_request``. Raises TypeError if ``timestamp`` is not an int."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise TypeError("timestamp must be an int of UNIX seconds")
    date = datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d")
    return "%s/%s/tc3_request" % (date, service)


def canonical_request(host, payload, content_type=JSON_CT, action=None):
    """Step 1: canonical request of a POST to ``/`` with an empty query string.

    Signs ``content-type`` and ``host``, plus ``x-tc-action`` when ``action`` is given;
    keys and values lowercased and stripped, keys in ASCII order.
    Returns ``(canonical_request, signed_headers)``. Raises AttributeError on non-str input.
    """
    headers = {"content-type": content_type, "host": host}
    if action is not None:
        headers["x-tc-action"] = action
    keys = sorted(headers)
    canonical_headers = "".join("%s:%s\n" % (k, headers[k].strip().lower()) for k in keys)
    signed = ";".join(keys)
    return "\n".join(["POST", "/", "", canonical_headers, signed, sha256_hex(payload)]), signed


def string_to_sign(canonical, timestamp, service):
    """Step 2: string to sign. Raises TypeError if ``timestamp`` is not an int."""
    scope = credential_scope(timestamp, service)
    return "\n".join([ALGORITHM, str(timestamp), scope, sha256_hex(canonical)])


def signature(secret_key, to_sign, timestamp, service):
    """Step 3: hex signature, key ``"TC3"+key -> date -> service -> "tc3_request"``.

    Raises TypeError if ``timestamp`` is not an int.
    """

    def mac(key, msg):
        return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()

    date = credential_scope(timestamp, service).split("/")[0]
    key = mac(mac(mac(("TC3" + secret_key).encode("utf-8"), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def tc3_sign(
    secret_id,
    secret_key,
    service,
    host,
    action,
    version,
    payload: str,
    timestamp: int,
    region: str | None = None,
    content_type=JSON_CT,
    *,
    sign_action=True,
) -> dict:
    """Step 4: the full headers (Authorization, Content-Type, Host, X-TC-*) of a signed POST.

    ``payload`` must be exactly the body sent, as a str (signed as UTF-8). Raises
    ValueError if ``secret_id`` or ``secret_key`` is empty, TypeError if ``timestamp``
    is not an int.
    """
    if not secret_id or not secret_key:
        raise ValueError("secret_id and secret_key are required")
    canonical, signed = canonical_request(host, payload, content_type, action if sign_action else None)
    sig = signature(secret_key, string_to_sign(canonical, timestamp, service), timestamp, service)
    headers = {
        "Authorization": "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s"
        % (ALGORITHM, secret_id, credential_scope(timestamp, service), signed, sig),
        "Content-Type": content_type,
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Version": version,
    }
    if region:
        headers["X-TC-Region"] = region
    return headers


def mask_phone(phone):
    """``+8613812345678`` -> ``138****5678``: the only form fit for logs. Raises nothing."""
    digits = re.sub(r"^\+86", "", str(phone))
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 8 else "****"


class SmsError(sms.SmsError):
    """Tencent Cloud refused the message; a ``wechat.sms.SmsError``, one type for every gateway."""

    def __init__(self, code, message, request_id=None):
        super().__init__(code, message)
        self.request_id = request_id


class TencentSmsClient:
    """One templated SMS through Tencent Cloud SMS ``SendSms`` (API version 2021-01-11)."""

    def __init__(
        self,
        secret_id,
        secret_key,
        sdk_app_id,
        sign_name,
        template_id,
        region="ap-guangzhou",
        endpoint="https://sms.tencentcloudapi.com",
        timeout=5,
        session=None,
    ):
        self.secret_id, self.secret_key = secret_id, secret_key
        self.sdk_app_id, self.sign_name, self.template_id = sdk_app_id, sign_name, template_id
        self.region, self.endpoint, self.timeout = region, endpoint.rstrip("/"), timeout
        self.host = urlparse(self.endpoint).netloc
        self.session = session or requests.Session()

    def send(self, phone: str, params: list[str], template_id: str | None = None) -> dict:
        """Send the template to ``phone``; return Tencent's ``Response`` dict.

        An 11-digit mainland number gets ``+86``; a ``+``-prefixed number is sent as is.
        Raises ValueError for any other phone (nothing sent); SmsError when the reply is
        not JSON with a ``Response`` object, holds an ``Error``, or has a ``SendStatusSet``
        that is empty or not all ``Ok``; ``requests.RequestException`` on network failure.
        """
        phone = str(phone).strip()
        if re.fullmatch(r"1\d{10}", phone):
            phone = "+86" + phone
        elif not re.fullmatch(r"\+\d{6,15}", phone):
            raise ValueError("phone must be an 11-digit mainland number or +E.164")
        body = json.dumps(
            {
                "PhoneNumberSet": [phone],
                "SmsSdkAppId": str(self.sdk_app_id),
                "SignName": self.sign_name,
                "TemplateId": str(template_id or self.template_id),
                "TemplateParamSet": [str(p) for p in params],
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        headers = tc3_sign(
            self.secret_id,
            self.secret_key,
            "sms",
            self.host,
            "SendSms",
            "2021-01-11",
            body,
            int(time.time()),
            self.region,
        )
        resp = self.session.post(self.endpoint + "/", data=body.encode("utf-8"), headers=headers, timeout=self.timeout)
        try:
            data = resp.json()["Response"]
        except (ValueError, KeyError, TypeError):
            data = None
        if not isinstance(data, dict):
            raise SmsError("InvalidResponse", "HTTP %s without a JSON Response" % getattr(resp, "status_code", "?"))
        statuses = data.get("SendStatusSet") or []
        bad = data.get("Error") or next((s for s in statuses if s.get("Code") != "Ok"), None)
        if bad is None and not statuses:
            bad = {"Code": "InvalidResponse", "Message": "empty SendStatusSet"}
        if bad is None:
            log.info("sms sent to %s request_id=%s", mask_phone(phone), data.get("RequestId"))
            return data
        code, message = bad.get("Code", "Unknown"), bad.get("Message", "")
        log.warning("sms to %s failed: %s %s request_id=%s", mask_phone(phone), code, message, data.get("RequestId"))
        raise SmsError(code, message, data.get("RequestId"))
