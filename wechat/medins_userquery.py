"""Tencent's med-ins user query (``userQuery``): the authCode the 医保授权 mini-program hands
back becomes the person's ``payAuthNo`` and what the platform says about them.

Source followed: Tencent's ClientDemo (Java) for ``mip-receiver.tengmed.com``, as copied into
public repositories (``ClientDemo.java``, package ``com.zzh.dream.study.base``), and public
hospital integrations that call ``/api/mipuserquery/userQuery/{partnerId}`` (TypeScript
``legacy-fsi-medical-insurance`` adapters, whose tests show the answer's fields):

- ``POST {base}/api/mipuserquery/userQuery/{partnerId}``, JSON ``{"qrcode": authCode, "openid"}``;
- headers ``god-portal-timestamp`` (milliseconds), ``god-portal-request-id`` (a random hex id)
  and ``god-portal-signature`` = lower-case hex HMAC-SHA256 under the partner secret of
  ``partnerId + timestamp``;
- the answer: ``{"code": 0, "message", "user_name", "user_card_type", "user_card_no",
  "pay_auth_no", "family_pay_auth_no"?, "user_longitude_latitude": {"longitude", "latitude"}}``.

Unverified (no public source found): how the answer states payAuthNo's validity. We read
``pay_auth_no_expire_time`` (``yyyyMMddHHmmss``, China time) and, when absent, keep payAuthNo
for ``default_ttl`` seconds only. The code for a bad, used or expired authCode is taken as
``2001`` like the platform's; any other non-zero code is a fault.
"""

import datetime as dt
import hashlib
import hmac
import time
import uuid

import requests

from wechat.medins import BAD_AUTH_CODE, MedinsError

CST = dt.timezone(dt.timedelta(hours=8))


def signature(partner_id, secret, timestamp):
    """``god-portal-signature``: hex HMAC-SHA256(secret, partnerId + timestamp)."""
    return hmac.new(secret.encode(), (partner_id + timestamp).encode(), hashlib.sha256).hexdigest()


class UserQuery:
    def __init__(self, base_url, partner_id, secret, default_ttl=1800, timeout=5):
        self.base_url = base_url.rstrip("/")
        self.partner_id, self.secret = partner_id, secret
        self.default_ttl = default_ttl
        self.timeout = timeout
        self.http = requests.Session()

    def query(self, auth_code, openid, now=None):
        """``{"pay_auth_no", "pay_auth_expires_at" (aware UTC), "name", "id_number", "id_type",
        "for_relative"}``. Raises MedinsError (code ``BAD_AUTH_CODE`` for a bad, used or expired
        code), requests.RequestException."""
        now = now or time.time()
        stamp = str(int(now * 1000))
        headers = {
            "god-portal-timestamp": stamp,
            "god-portal-request-id": uuid.uuid4().hex,
            "god-portal-signature": signature(self.partner_id, self.secret, stamp),
        }
        url = "%s/api/mipuserquery/userQuery/%s" % (self.base_url, self.partner_id)
        resp = self.http.post(url, json={"qrcode": auth_code, "openid": openid}, headers=headers, timeout=self.timeout)
        try:
            answer = resp.json()
        except ValueError:
            raise MedinsError("HTTP", "userQuery HTTP %s without JSON" % resp.status_code) from None
        code = str(answer.get("code"))
        if code != "0":
            raise MedinsError(BAD_AUTH_CODE if code == BAD_AUTH_CODE else code, str(answer.get("message", "")))
        pay_auth_no = answer.get("pay_auth_no") or answer.get("family_pay_auth_no")
        if not pay_auth_no:
            raise MedinsError("ANSWER", "userQuery without pay_auth_no")
        return {
            "pay_auth_no": pay_auth_no,
            "pay_auth_expires_at": self._expiry(answer.get("pay_auth_no_expire_time"), now),
            "name": answer.get("user_name", ""),
            "id_number": answer.get("user_card_no", ""),
            "id_type": answer.get("user_card_type", "01"),
            "for_relative": bool(answer.get("family_pay_auth_no")),
        }

    def _expiry(self, stated, now):
        if stated:
            try:
                return dt.datetime.strptime(stated, "%Y%m%d%H%M%S").replace(tzinfo=CST).astimezone(dt.UTC)
            except (TypeError, ValueError):
                raise MedinsError("ANSWER", "userQuery with an unreadable pay_auth_no_expire_time") from None
        return dt.datetime.fromtimestamp(now + self.default_ttl, dt.UTC)
