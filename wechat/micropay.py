"""WeChat Pay API v2 micropay (付款码支付 / 刷脸): the window scans the patient's payment
code (or the face device hands over its code) and the money is taken at once.

Built on wechatpy's v2 pay client (``WeChatPay.micropay``): XML over HTTPS, signed
with the API v2 key (MD5 by default, or HMAC-SHA256). As a service provider (服务商)
``mch_id`` is the provider's and ``sub_mch_id`` the hospital's; a hospital that is the
provider itself sends no ``sub_mch_id``.

A payment may stay unresolved: the payer still has to confirm (USERPAYING), WeChat
answers SYSTEMERROR or BANKERROR, or the call times out. The order is then queried
until ``resolve_seconds`` have passed; still unresolved, ``pay`` raises Unresolved and
the caller must reverse it (``/secapi/pay/reverse``, with the API client certificate)
before telling anyone it failed.
"""

import logging
import time

import requests
import xmltodict
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay

log = logging.getLogger(__name__)

#: A WeChat payment code: 18 digits starting 10-15. The face device's code is passed the same way.
CODE_PREFIXES = ("10", "11", "12", "13", "14", "15")
#: err_code of a micropay whose outcome is not known yet: query, then reverse.
UNRESOLVED = ("USERPAYING", "SYSTEMERROR", "BANKERROR")
#: trade_state of an order that will never be paid.
FAILED_STATES = ("CLOSED", "REVOKED", "PAYERROR")


class MicropayError(Exception):
    """WeChat refused the payment: nothing was taken. ``code`` is WeChat's err_code."""

    def __init__(self, code, message):
        super().__init__("%s: %s" % (code, message))
        self.code, self.message = code, message


class Unresolved(Exception):
    """No final answer within ``resolve_seconds``: the order must be reversed. ``code``: the last word."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


def looks_like_code(text):
    return isinstance(text, str) and len(text) == 18 and text.isdigit() and text[:2] in CODE_PREFIXES


def _answer_field(exc, name):
    """A field of the XML answer carried by a WeChatPayException, or None."""
    try:
        return xmltodict.parse(exc.response.text)["xml"].get(name)
    except Exception:  # noqa: BLE001  (no answer, or not XML)
        return None


class Micropay:
    def __init__(
        self,
        appid,
        mchid,
        api_key,
        gateway,
        sub_mchid=None,
        cert=None,
        timeout=5,
        poll_seconds=1.0,
        resolve_seconds=30.0,
        reverse_tries=3,
    ):
        """``mchid``: the provider's (or a direct merchant's) id; ``sub_mchid``: the hospital's,
        None in direct mode. ``cert``: ``(certificate path, private key path)`` of the API client
        certificate, which ``/secapi/`` calls (the reverse) require."""
        cert_path, key_path = cert or (None, None)
        self.client = WeChatPay(appid, api_key, mchid, sub_mch_id=sub_mchid, mch_cert=cert_path, mch_key=key_path)
        self.client.timeout = timeout
        self.client.API_BASE_URL = gateway.rstrip("/") + "/"  # the sandbox, or WeChat's v2 host
        self.poll_seconds, self.resolve_seconds, self.reverse_tries = poll_seconds, resolve_seconds, reverse_tries

    def pay(self, out_trade_no, total_fee, auth_code, body, client_ip):
        """Take ``total_fee`` fen; returns WeChat's answer once ``trade_state`` is SUCCESS.

        Raises MicropayError (refused: nothing taken), Unresolved (reverse it).
        """
        deadline = time.monotonic() + self.resolve_seconds
        last = "USERPAYING"
        try:
            answer = self.client.micropay.create(
                body=body, total_fee=total_fee, auth_code=auth_code, client_ip=client_ip, out_trade_no=out_trade_no
            )
            if self._signed(answer):
                return answer
            last = "SIGN_ERROR"
        except WeChatPayException as e:
            if e.return_code == "FAIL" or (e.return_code == "SUCCESS" and e.errcode not in UNRESOLVED):
                raise MicropayError(e.errcode or e.return_code, e.errmsg or e.return_msg or "") from None
            last = e.errcode or "HTTP_ERROR"  # USERPAYING, SYSTEMERROR, BANKERROR, or an HTTP error
        except requests.RequestException as e:
            last = type(e).__name__
        log.warning("micropay %s unresolved (%s): querying", out_trade_no, last)
        return self._wait(out_trade_no, deadline, last)

    def _wait(self, out_trade_no, deadline, last):
        while time.monotonic() < deadline:
            time.sleep(self.poll_seconds)
            state, answer = self.query(out_trade_no)
            if state == "SUCCESS":
                return answer
            if state in FAILED_STATES:
                raise MicropayError(state, answer.get("trade_state_desc") or "")
            last = state or last
        raise Unresolved(last)

    def query(self, out_trade_no):
        """``(trade_state, answer)``; the state is ORDERNOTEXIST when WeChat has no such order,
        None when the query failed (unreachable, an error, an unsigned answer)."""
        try:
            answer = self.client.micropay.query(out_trade_no=out_trade_no)
        except WeChatPayException as e:
            return (e.errcode if e.errcode == "ORDERNOTEXIST" else None), {}
        except requests.RequestException:
            return None, {}
        if not self._signed(answer):
            return None, {}
        return answer.get("trade_state"), answer

    def reverse(self, out_trade_no):
        """Reverse (撤销) the order: WeChat closes it, or gives the money back if it was paid.
        True once WeChat says so; while it answers ``recall=Y`` (or cannot be reached) it is
        asked again, up to ``reverse_tries`` times."""
        for attempt in range(self.reverse_tries):
            if attempt:
                time.sleep(self.poll_seconds)
            try:
                answer = self.client.order.reverse(out_trade_no=out_trade_no)
            except WeChatPayException as e:
                recall = _answer_field(e, "recall") if e.return_code == "SUCCESS" else "Y"
                log.warning("micropay %s: reverse refused (%s, recall=%s)", out_trade_no, e.errcode, recall)
                if recall != "Y":
                    return False
                continue
            except requests.RequestException as e:
                log.warning("micropay %s: reverse failed (%s)", out_trade_no, type(e).__name__)
                continue
            if self._signed(answer):
                return True
        return False

    def _signed(self, answer):
        """Whether the answer's sign (made with our v2 key) is valid."""
        return isinstance(answer, dict) and self.client.check_signature(dict(answer))
