"""WeChat Pay API v3: signed requests, JSAPI and combine (合单) orders, queries, closes,
refunds, trade statements, notification verify + decrypt, and the mini-program's
``wx.requestPayment`` parameters.

WeChat's answers and notifications are verified in public-key mode: the only key
trusted is the WeChat Pay public key with id ``PUB_KEY_ID_...``. A
``Wechatpay-Serial`` naming anything else is refused at once; nothing is ever
fetched to find another key. The primitives are wechatpayv3's, on ``cryptography``.
"""

import functools
import hashlib
import json
import re
import secrets
import time

import requests
from wechatpayv3.utils import aes_decrypt, load_private_key, load_public_key, rsa_sign, rsa_verify

GATEWAY = "https://api.mch.weixin.qq.com"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
MAX_SKEW = 300
#: What WeChat's signature headers look like; anything else is refused before it is used.
TIMESTAMP = re.compile(r"[0-9]{1,12}")
BASE64 = re.compile(r"[A-Za-z0-9+/]{4,1024}={0,2}")
#: Keys parsed once per PEM text (an RSA private key is checked as it is parsed: tens of milliseconds).
_private_key = functools.lru_cache(maxsize=8)(load_private_key)
_public_key = functools.lru_cache(maxsize=8)(load_public_key)


class PayError(Exception):
    """WeChat Pay answered with an error (``code`` such as ORDER_PAID, ORDER_NOT_EXIST), or the answer
    failed verification (code ``SIGNATURE``)."""

    def __init__(self, status, code, message):
        super().__init__("%s %s %s" % (status, code, message))
        self.status, self.code, self.message = status, code, message


class NotificationError(Exception):
    """A notification that must not be trusted: bad signature, unknown serial, stale or undecryptable."""


def authorization(mchid, serial_no, private_key, method, url_path, body, timestamp=None, nonce=None):
    """The ``Authorization`` header of a merchant request."""
    timestamp = str(timestamp or int(time.time()))
    nonce = nonce or secrets.token_hex(16).upper()
    message = "%s\n%s\n%s\n%s\n%s\n" % (method, url_path, timestamp, nonce, body)
    signature = rsa_sign(private_key, message)
    return '%s mchid="%s",nonce_str="%s",signature="%s",timestamp="%s",serial_no="%s"' % (
        SIGNATURE_TYPE,
        mchid,
        nonce,
        signature,
        timestamp,
        serial_no,
    )


def parse_authorization(header):
    """``{"mchid", "nonce_str", "signature", "timestamp", "serial_no"}`` from an Authorization header."""
    scheme, _, rest = header.partition(" ")
    if scheme != SIGNATURE_TYPE:
        return None
    fields = {}
    for part in rest.split(","):
        key, _, value = part.strip().partition("=")
        fields[key] = value.strip('"')
    return fields


def verify_signed(headers, body, trusted_id, public_key, now=None, max_skew=MAX_SKEW):
    """Check WeChat's signature headers over ``body`` (str). Raises NotificationError."""
    serial = headers.get("Wechatpay-Serial", "")
    if serial != trusted_id:
        raise NotificationError("unknown Wechatpay-Serial %r" % serial[:40])
    timestamp = headers.get("Wechatpay-Timestamp", "")
    if not TIMESTAMP.fullmatch(timestamp) or abs((now or time.time()) - int(timestamp)) > max_skew:
        raise NotificationError("stale or missing Wechatpay-Timestamp")
    if not BASE64.fullmatch(headers.get("Wechatpay-Signature", "")):
        raise NotificationError("Wechatpay-Signature is not base64")
    signature_type = headers.get("Wechatpay-Signature-Type", SIGNATURE_TYPE)
    if signature_type != SIGNATURE_TYPE:
        raise NotificationError("unsupported signature type")
    if not rsa_verify(
        timestamp, headers.get("Wechatpay-Nonce", ""), body, headers.get("Wechatpay-Signature", ""), public_key
    ):
        raise NotificationError("bad signature")


def decrypt_resource(resource, apiv3_key):
    """The JSON inside an ``AEAD_AES_256_GCM`` resource. Raises NotificationError."""
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise NotificationError("unsupported algorithm")
    plain = aes_decrypt(
        resource.get("nonce", ""), resource.get("ciphertext", ""), resource.get("associated_data", ""), apiv3_key
    )
    if plain is None:
        raise NotificationError("resource does not decrypt")
    try:
        return json.loads(plain)
    except (ValueError, RecursionError):
        raise NotificationError("resource is not JSON") from None


class WeChatPay:
    """Our merchant calls. ``gateway`` is WeChat Pay or the sandbox."""

    def __init__(
        self,
        mchid,
        appid,
        serial_no,
        private_key_pem,
        public_key_pem,
        public_key_id,
        apiv3_key,
        notify_url,
        gateway=GATEWAY,
        timeout=10,
    ):
        self.mchid, self.appid, self.serial_no = mchid, appid, serial_no
        self.private_key = _private_key(private_key_pem)
        self.public_key = _public_key(public_key_pem)
        self.public_key_id, self.apiv3_key, self.notify_url = public_key_id, apiv3_key, notify_url
        self.gateway, self.timeout = gateway.rstrip("/"), timeout
        self.http = requests.Session()

    def request(self, method, path, body=None):
        """One signed call; the answer verified. Raises PayError, requests.RequestException.

        ``path`` is WeChat's, from ``/v3`` with its query, and that is what is signed, whatever
        path the gateway has (the sandbox's mount point is not part of it). Every request is
        signed as our own merchant (``self.mchid``: the service provider), never a sub-merchant."""
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")) if body is not None else ""
        headers = {
            "Authorization": authorization(self.mchid, self.serial_no, self.private_key, method, path, raw),
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Wechatpay-Serial": self.public_key_id,
        }
        resp = self.http.request(
            method, self.gateway + path, data=raw.encode() if raw else None, headers=headers, timeout=self.timeout
        )
        if resp.status_code >= 400:
            try:
                err = resp.json()
            except ValueError:
                err = {}
            raise PayError(resp.status_code, err.get("code", "HTTP_%d" % resp.status_code), err.get("message", ""))
        try:
            verify_signed(resp.headers, resp.text, self.public_key_id, self.public_key)
        except NotificationError as e:
            raise PayError(resp.status_code, "SIGNATURE", str(e)) from None
        return resp.json() if resp.text else {}

    def jsapi(self, order):
        """``/v3/pay/transactions/jsapi``: returns the prepay_id."""
        return self.request("POST", "/v3/pay/transactions/jsapi", order)["prepay_id"]

    def combine_jsapi(self, order):
        """``/v3/combine-transactions/jsapi`` (合单): returns the prepay_id."""
        return self.request("POST", "/v3/combine-transactions/jsapi", order)["prepay_id"]

    def query(self, out_trade_no, mchid):
        return self.request("GET", "/v3/pay/transactions/out-trade-no/%s?mchid=%s" % (out_trade_no, mchid))

    def combine_query(self, combine_out_trade_no):
        return self.request("GET", "/v3/combine-transactions/out-trade-no/%s" % combine_out_trade_no)

    def close(self, out_trade_no, mchid):
        self.request("POST", "/v3/pay/transactions/out-trade-no/%s/close" % out_trade_no, {"mchid": mchid})

    def combine_close(self, combine_out_trade_no, sub_orders):
        body = {"combine_appid": self.appid, "sub_orders": sub_orders}
        self.request("POST", "/v3/combine-transactions/out-trade-no/%s/close" % combine_out_trade_no, body)

    def refund(self, body, sub_mchid=None):
        """``/v3/refund/domestic/refunds``: returns WeChat's refund record. With ``sub_mchid``, the
        refund of a sub-merchant's order (a partner or provider-combine order)."""
        body = dict(body, sub_mchid=sub_mchid) if sub_mchid else body
        return self.request("POST", "/v3/refund/domestic/refunds", body)

    # The service-provider (服务商) APIs: we are sp_mchid / sp_appid, the hospital is sub_mchid.

    def partner_jsapi(self, order):
        """``/v3/pay/partner/transactions/jsapi``: ``order`` with sub_mchid, description, out_trade_no,
        time_expire, attach, amount and ``payer.sp_openid``; sp_appid, sp_mchid and notify_url are
        ours unless given. Returns the prepay_id (paid through :meth:`request_payment` with our appid)."""
        body = {"sp_appid": self.appid, "sp_mchid": self.mchid, "notify_url": self.notify_url} | order
        return self.request("POST", "/v3/pay/partner/transactions/jsapi", body)["prepay_id"]

    def partner_native(self, order):
        """``/v3/pay/partner/transactions/native`` (Native下单, 服务商): ``order`` with sub_mchid,
        description, out_trade_no, time_expire, attach and amount; sp_appid, sp_mchid and notify_url
        are ours unless given. Returns the code_url to show as a QR code."""
        body = {"sp_appid": self.appid, "sp_mchid": self.mchid, "notify_url": self.notify_url} | order
        return self.request("POST", "/v3/pay/partner/transactions/native", body)["code_url"]

    def native(self, order):
        """``/v3/pay/transactions/native`` (direct): returns the code_url."""
        return self.request("POST", "/v3/pay/transactions/native", order)["code_url"]

    def partner_query(self, out_trade_no, sub_mchid):
        path = "/v3/pay/partner/transactions/out-trade-no/%s?sp_mchid=%s&sub_mchid=%s"
        return self.request("GET", path % (out_trade_no, self.mchid, sub_mchid))

    def partner_query_by_id(self, transaction_id, sub_mchid):
        path = "/v3/pay/partner/transactions/id/%s?sp_mchid=%s&sub_mchid=%s"
        return self.request("GET", path % (transaction_id, self.mchid, sub_mchid))

    def partner_close(self, out_trade_no, sub_mchid):
        body = {"sp_mchid": self.mchid, "sub_mchid": sub_mchid}
        self.request("POST", "/v3/pay/partner/transactions/out-trade-no/%s/close" % out_trade_no, body)

    def provider_sub_order(self, sub_mchid, out_trade_no, total_fen, description, attach):
        """One ``sub_orders[]`` entry of a combine order placed as a provider: mchid is ours (sp_mchid),
        sub_mchid the hospital's (``attach`` is required in a sub-order)."""
        sub = {"mchid": self.mchid, "sub_mchid": sub_mchid, "out_trade_no": out_trade_no, "description": description}
        return sub | {"attach": attach, "amount": {"total_amount": total_fen, "currency": "CNY"}}

    def trade_bill(self, bill_date, sub_mchid=None):
        """The day's trade statement (of every sub-merchant, or of one) as CSV text, backquoted fields.

        The download is signed over its path and query relative to the API host
        (``/v3/billdownload/file?token=...``); its answer is unsigned, so the file is trusted only
        if its SHA1 is the ``hash_value`` WeChat gave. Raises PayError (``DOWNLOAD_URL``,
        ``HASH_MISMATCH``), requests.RequestException."""
        query = "bill_date=%s&bill_type=ALL" % bill_date + ("&sub_mchid=%s" % sub_mchid if sub_mchid else "")
        info = self.request("GET", "/v3/bill/tradebill?" + query)
        url = info["download_url"]
        if not url.startswith(self.gateway + "/"):
            raise PayError(200, "DOWNLOAD_URL", "download_url is not on the API host")
        signed_path = url[len(self.gateway) :]
        auth = authorization(self.mchid, self.serial_no, self.private_key, "GET", signed_path, "")
        resp = self.http.get(url, timeout=self.timeout, headers={"Authorization": auth})
        resp.raise_for_status()
        sha1 = hashlib.sha1(resp.content).hexdigest()
        if info.get("hash_type") != "SHA1" or sha1 != info.get("hash_value", "").lower():
            raise PayError(resp.status_code, "HASH_MISMATCH", "the statement's SHA1 is not hash_value")
        return resp.content.decode("utf-8")

    def request_payment(self, prepay_id, appid=None):
        """The JSAPI 调起支付 parameters: paySign (RSA, SHA256withRSA) over appId, timeStamp, nonceStr
        and package, ``appid`` being the app the order was placed for (ours by default): the one the
        payer's openid belongs to. ``wx.requestPayment`` (mini-program) takes all but ``appId``;
        ``WeixinJSBridge``'s ``getBrandWCPayRequest`` (official account) takes all six."""
        appid = appid or self.appid
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        package = "prepay_id=%s" % prepay_id
        message = "%s\n%s\n%s\n%s\n" % (appid, timestamp, nonce, package)
        return {
            "appId": appid,
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": rsa_sign(self.private_key, message),
        }

    def verify_notification(self, headers, body, now=None):
        """Verify and decrypt a notification: ``(event, resource)``. Raises NotificationError."""
        verify_signed(headers, body, self.public_key_id, self.public_key, now=now)
        try:
            event = json.loads(body)
        except (ValueError, RecursionError):
            raise NotificationError("body is not JSON") from None
        return event, decrypt_resource(event.get("resource") or {}, self.apiv3_key)
