"""SMS gateway clients. ``SandboxSms`` posts to the sandbox outbox; the Tencent
Cloud adapter (``wechat.tc3``) is chosen by config in production."""

import requests


class SmsError(Exception):
    """The gateway refused a message."""

    def __init__(self, code, message):
        super().__init__("%s %s" % (code, message))
        self.code = code
        self.message = message


class SandboxSms:
    """The sandbox gateway: ``POST {base}/sms/send`` with the phone and the full text."""

    def __init__(self, base_url, timeout=5):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def send(self, phone, text):
        """Send ``text`` to ``phone``. Raises SmsError, requests.RequestException."""
        resp = requests.post(self.base_url + "/sms/send", json={"phone": phone, "text": text}, timeout=self.timeout)
        body = resp.json()
        if body.get("code") != "Ok":
            raise SmsError(body.get("code"), body.get("message", ""))
        return body
