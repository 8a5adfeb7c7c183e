"""WeChat Pay API v2 micropay (付款码支付 / 刷脸): the window scans the patient's payment
code (or the face device hands over its code) and the money is taken at once.

Built on wechatpy's v2 pay client (``WeChatPay.micropay``): XML over HTTPS, signed
with the API v2 key (MD5 by default, or HMAC-SHA256). A payer who must still confirm
in WeChat answers ``USERPAYING``: the order is then queried until it settles.
"""

import logging
import time

import requests
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay

log = logging.getLogger(__name__)

#: A WeChat payment code: 18 digits starting 10-15. The face device's code is passed the same way.
CODE_PREFIXES = ("10", "11", "12", "13", "14", "15")


class MicropayError(Exception):
    """WeChat refused or the payment did not settle; ``code`` is WeChat's err_code."""

    def __init__(self, code, message):
        super().__init__("%s: %s" % (code, message))
        self.code, self.message = code, message


def looks_like_code(text):
    return isinstance(text, str) and len(text) == 18 and text.isdigit() and text[:2] in CODE_PREFIXES


class Micropay:
    def __init__(self, appid, mchid, api_key, gateway, timeout=5, poll_seconds=1.0, polls=10):
        self.client = WeChatPay(appid, api_key, mchid, timeout=timeout)
        self.client.API_BASE_URL = gateway.rstrip("/") + "/"  # the sandbox, or WeChat's v2 host
        self.poll_seconds, self.polls = poll_seconds, polls

    def pay(self, out_trade_no, total_fee, auth_code, body, client_ip):
        """Take ``total_fee`` fen; returns WeChat's answer once ``trade_state`` is SUCCESS.

        Raises MicropayError (refused, or still unpaid after polling), requests.RequestException.
        """
        try:
            return self._checked(
                self.client.micropay.create(
                    body=body, total_fee=total_fee, auth_code=auth_code, client_ip=client_ip, out_trade_no=out_trade_no
                )
            )
        except WeChatPayException as e:
            if e.errcode not in ("USERPAYING", "SYSTEMERROR", "BANKERROR"):
                raise MicropayError(e.errcode or e.return_code or "FAIL", e.errmsg or e.return_msg or "") from None
            if e.response is not None and e.response.status_code >= 500:
                raise requests.HTTPError("micropay %s" % e.response.status_code) from None
        return self._wait(out_trade_no)

    def _wait(self, out_trade_no):
        for _ in range(self.polls):
            time.sleep(self.poll_seconds)
            try:
                answer = self.client.micropay.query(out_trade_no=out_trade_no)
            except WeChatPayException as e:
                raise MicropayError(e.errcode or "FAIL", e.errmsg or "") from None
            state = self._checked(answer).get("trade_state")
            if state == "SUCCESS":
                return answer
            if state not in ("USERPAYING", "NOTPAY"):
                raise MicropayError(state or "FAIL", answer.get("trade_state_desc") or "")
        raise MicropayError("USERPAYING", "用户未在规定时间内确认支付")

    def _checked(self, answer):
        """WeChat's answer, once its sign (made with our v2 key) is verified. Raises MicropayError."""
        if not isinstance(answer, dict) or not self.client.check_signature(dict(answer)):
            raise MicropayError("SIGN_ERROR", "微信支付应答签名无效")
        return answer
