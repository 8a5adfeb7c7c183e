"""TC3-HMAC-SHA256 signer against Tencent Cloud's "签名方法 v3" worked example, and the SMS client.

The worked example: SecretId ``AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******``, SecretKey
``Gu5t9xGARNpq86cd98joQYCN3*******`` (the masking asterisks are part of the key the
document signs with), cvm DescribeInstances 2017-03-12, ap-guangzhou, timestamp 1551113065.
Its revisions differ only in the signed headers and the masking of the key:

* current: ``content-type;host;x-tc-action`` (action lowercased in the canonical headers),
  hashed canonical request 7019a55b..., signature be4f67d3...
  (quoted from cloud.tencent.com/document/api/1427/56189; the same canonical headers are in
  TencentCloud/signature-process-demo ``signature-v3/python/demo.py``);
* older: ``content-type;host``, hashed canonical request 5ffe6a04..., signature 2230eefd...
  (the key/headers of TencentCloud/signature-process-demo ``cvm/signature-v3/python/demo.py``);
* the English revision with key ``Gu5t9xGARNpq86cd98joQYCN3EXAMPLE``: ``content-type;host``,
  signature 72e494ea... printed in full with its Authorization line;
* the newest revision masks both fully (``AKID`` + 32 ``*``, 32 ``*``): signature 10b1a37a...
"""

import hashlib
import hmac
import json
import logging
import re
from datetime import datetime, timezone

import pytest

from wechat import sms
from wechat.tc3 import (
    SmsError,
    TencentSmsClient,
    canonical_request,
    credential_scope,
    mask_phone,
    sha256_hex,
    signature,
    string_to_sign,
    tc3_sign,
)

SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******"
SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3*******"
TIMESTAMP = 1551113065
# The body exactly as the document sends it: the \u escapes are literal bytes of the body.
PAYLOAD = r'{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}'
HASHED_PAYLOAD = "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"

DOC_CANONICAL_CURRENT = (
    "POST\n/\n\n"
    "content-type:application/json; charset=utf-8\n"
    "host:cvm.tencentcloudapi.com\n"
    "x-tc-action:describeinstances\n"
    "\n"
    "content-type;host;x-tc-action\n" + HASHED_PAYLOAD
)
DOC_CANONICAL_OLDER = (
    "POST\n/\n\n"
    "content-type:application/json; charset=utf-8\n"
    "host:cvm.tencentcloudapi.com\n"
    "\n"
    "content-type;host\n" + HASHED_PAYLOAD
)

# (secret_id, secret_key, sign_action, canonical request, hashed canonical request, signature)
DOC_VECTORS = {
    "current": (
        SECRET_ID,
        SECRET_KEY,
        True,
        DOC_CANONICAL_CURRENT,
        "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84",
        "be4f67d323c78ab9acb7395e43c0dbcf822a9cfac32fea2449a7bc7726b770a3",
    ),
    "older": (
        SECRET_ID,
        SECRET_KEY,
        False,
        DOC_CANONICAL_OLDER,
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031",
        "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c",
    ),
    "example-key": (
        "AKID**********************0123456789EXAMPLE",
        "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        False,
        DOC_CANONICAL_OLDER,
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031",
        "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
    ),
    "fully-masked": (
        "AKID" + "*" * 32,
        "*" * 32,
        True,
        DOC_CANONICAL_CURRENT,
        "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84",
        "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f",
    ),
}


def test_payload_is_the_documented_body_and_hash():
    params = {"Limit": 1, "Filters": [{"Values": ["未命名"], "Name": "instance-name"}]}
    assert json.dumps(params) == PAYLOAD
    assert sha256_hex(PAYLOAD) == HASHED_PAYLOAD


def test_credential_scope_uses_the_utc_date():
    # 1551113065 is 2019-02-26 00:44:25 in Beijing but 2019-02-25 in UTC; the doc wants UTC.
    assert credential_scope(TIMESTAMP, "cvm") == "2019-02-25/cvm/tc3_request"
    with pytest.raises(TypeError):
        credential_scope("1551113065", "cvm")


@pytest.mark.parametrize("name", sorted(DOC_VECTORS))
def test_signer_reproduces_documented_example(name):
    secret_id, secret_key, sign_action, doc_canonical, doc_hashed, doc_signature = DOC_VECTORS[name]
    canonical, signed = canonical_request(
        "cvm.tencentcloudapi.com", PAYLOAD, action="DescribeInstances" if sign_action else None
    )
    assert canonical == doc_canonical
    assert sha256_hex(canonical) == doc_hashed
    to_sign = string_to_sign(canonical, TIMESTAMP, "cvm")
    assert to_sign == "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n" + doc_hashed
    assert signature(secret_key, to_sign, TIMESTAMP, "cvm") == doc_signature

    headers = tc3_sign(
        secret_id,
        secret_key,
        "cvm",
        "cvm.tencentcloudapi.com",
        "DescribeInstances",
        "2017-03-12",
        PAYLOAD,
        TIMESTAMP,
        "ap-guangzhou",
        sign_action=sign_action,
    )
    assert headers == {
        "Authorization": "TC3-HMAC-SHA256 Credential=%s/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=%s, Signature=%s" % (secret_id, signed, doc_signature),
        "Content-Type": "application/json; charset=utf-8",
        "Host": "cvm.tencentcloudapi.com",
        "X-TC-Action": "DescribeInstances",
        "X-TC-Timestamp": "1551113065",
        "X-TC-Version": "2017-03-12",
        "X-TC-Region": "ap-guangzhou",
    }


def test_documented_authorization_lines_verbatim():
    current = tc3_sign(
        SECRET_ID, SECRET_KEY, "cvm", "cvm.tencentcloudapi.com", "DescribeInstances", "2017-03-12", PAYLOAD, TIMESTAMP
    )
    assert current["Authorization"] == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/"
        "tc3_request, SignedHeaders=content-type;host;x-tc-action, "
        "Signature=be4f67d323c78ab9acb7395e43c0dbcf822a9cfac32fea2449a7bc7726b770a3"
    )
    assert "X-TC-Region" not in current
    example = tc3_sign(
        "AKID**********************0123456789EXAMPLE",
        "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        "cvm",
        "cvm.tencentcloudapi.com",
        "DescribeInstances",
        "2017-03-12",
        PAYLOAD,
        TIMESTAMP,
        sign_action=False,
    )
    assert example["Authorization"] == (
        "TC3-HMAC-SHA256 Credential=AKID**********************0123456789EXAMPLE/2019-02-25/cvm/"
        "tc3_request, SignedHeaders=content-type;host, "
        "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    )


def test_tc3_sign_refuses_missing_credentials():
    with pytest.raises(ValueError):
        tc3_sign("", SECRET_KEY, "cvm", "cvm.tencentcloudapi.com", "A", "v", "{}", TIMESTAMP)


# --- SMS client ------------------------------------------------------------------------------

AUTH_RE = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d\d-\d\d)/(?P<service>[a-z]+)"
    r"/tc3_request, SignedHeaders=(?P<signed>[a-z;-]+), Signature=(?P<sig>[0-9a-f]{64})$"
)


def recompute_signature(headers, body, secret_key):
    """Verify a captured request the way the server would, independently of wechat.tc3."""
    auth = AUTH_RE.match(headers["Authorization"])
    assert auth, headers["Authorization"]
    lower = {k.lower(): v for k, v in headers.items()}
    timestamp = lower["x-tc-timestamp"]
    date = datetime.fromtimestamp(int(timestamp), tz=timezone.utc).strftime("%Y-%m-%d")
    assert auth["date"] == date
    names = auth["signed"].split(";")
    canonical_headers = "".join("%s:%s\n" % (n, lower[n].strip().lower()) for n in names)
    canonical = "POST\n/\n\n%s\n%s\n%s" % (canonical_headers, auth["signed"], hashlib.sha256(body).hexdigest())
    to_sign = "TC3-HMAC-SHA256\n%s\n%s/%s/tc3_request\n%s" % (
        timestamp,
        date,
        auth["service"],
        hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
    )
    key = ("TC3" + secret_key).encode("utf-8")
    for part in (date, auth["service"], "tc3_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return auth, hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


class FakeResponse:
    def __init__(self, payload, status_code=200):
        self.payload, self.status_code = payload, status_code

    def json(self):
        if isinstance(self.payload, str):
            raise ValueError("not JSON")
        return self.payload


class FakeSession:
    """Stands in for requests.Session: records each post, answers with a canned reply."""

    def __init__(self, reply):
        self.reply, self.calls = reply, []

    def post(self, url, data=None, headers=None, timeout=None, **kwargs):
        self.calls.append({"url": url, "data": data, "headers": headers, "timeout": timeout})
        return self.reply


OK_REPLY = {
    "Response": {
        "SendStatusSet": [
            {
                "SerialNo": "5000:1045710669157053657849499619",
                "PhoneNumber": "+8613812345678",
                "Fee": 1,
                "SessionContext": "",
                "Code": "Ok",
                "Message": "send success",
                "IsoCode": "CN",
            }
        ],
        "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279",
    }
}
ERROR_REPLY = {
    "Response": {
        "Error": {
            "Code": "FailedOperation.SignatureIncorrectOrUnapproved",
            "Message": "签名未审批或格式错误。",
        },
        "RequestId": "b1bbcea7-0000-4f3e-a81f-9198114a2279",
    }
}
LIMIT_REPLY = {
    "Response": {
        "SendStatusSet": [
            {
                "SerialNo": "",
                "PhoneNumber": "+8613812345678",
                "Fee": 0,
                "SessionContext": "",
                "Code": "LimitExceeded.PhoneNumberDailyLimit",
                "Message": "the number of SMS messages sent from a single mobile number every day "
                "exceeds the upper limit",
                "IsoCode": "CN",
            }
        ],
        "RequestId": "c2ccdfb8-0000-4f3e-a81f-9198114a2279",
    }
}


def make_client(reply):
    session = FakeSession(reply)
    client = TencentSmsClient("AKIDsmsTEST", "sms-secret-key", "1400006666", "某某医院", "1234567", session=session)
    return client, session


def assert_signed_send_sms(call):
    assert call["url"] == "https://sms.tencentcloudapi.com/"
    assert call["timeout"] == 5
    assert isinstance(call["data"], bytes)
    assert json.loads(call["data"].decode("utf-8")) == {
        "PhoneNumberSet": ["+8613812345678"],
        "SmsSdkAppId": "1400006666",
        "SignName": "某某医院",
        "TemplateId": "1234567",
        "TemplateParamSet": ["8821", "5"],
    }
    headers = call["headers"]
    assert headers["Host"] == "sms.tencentcloudapi.com"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert (headers["X-TC-Action"], headers["X-TC-Version"], headers["X-TC-Region"]) == (
        "SendSms",
        "2021-01-11",
        "ap-guangzhou",
    )
    auth, expected = recompute_signature(headers, call["data"], "sms-secret-key")
    assert (auth["id"], auth["service"]) == ("AKIDsmsTEST", "sms")
    assert auth["signed"] == "content-type;host;x-tc-action"
    assert auth["sig"] == expected
    # The check has teeth: another body or key would not verify.
    assert recompute_signature(headers, call["data"] + b" ", "sms-secret-key")[1] != auth["sig"]
    assert recompute_signature(headers, call["data"], "other-key")[1] != auth["sig"]


def test_send_success_returns_response(caplog):
    client, session = make_client(FakeResponse(OK_REPLY))
    with caplog.at_level(logging.DEBUG, logger="wechat.tc3"):
        assert client.send("13812345678", ["8821", "5"]) == OK_REPLY["Response"]
    assert len(session.calls) == 1
    assert_signed_send_sms(session.calls[0])
    assert "138****5678" in caplog.text and "13812345678" not in caplog.text


@pytest.mark.parametrize(
    "reply, code",
    [
        (ERROR_REPLY, "FailedOperation.SignatureIncorrectOrUnapproved"),
        (LIMIT_REPLY, "LimitExceeded.PhoneNumberDailyLimit"),
    ],
)
def test_send_failure_raises_sms_error(caplog, reply, code):
    client, session = make_client(FakeResponse(reply))
    with caplog.at_level(logging.DEBUG, logger="wechat.tc3"):
        with pytest.raises(SmsError) as err:
            client.send("+8613812345678", ["8821", "5"])
    assert err.value.code == code
    assert isinstance(err.value, sms.SmsError)  # callers catch one type for every gateway
    assert err.value.request_id == reply["Response"]["RequestId"]
    assert_signed_send_sms(session.calls[0])
    assert "138****5678" in caplog.text and "13812345678" not in caplog.text


@pytest.mark.parametrize(
    "reply",
    [
        FakeResponse("<html>502 Bad Gateway</html>", 502),
        FakeResponse({"Response": {"SendStatusSet": [], "RequestId": "r"}}),
        FakeResponse({"unexpected": 1}),
    ],
)
def test_send_unusable_reply_raises_sms_error(reply):
    client, _ = make_client(reply)
    with pytest.raises(SmsError) as err:
        client.send("13812345678", ["1"])
    assert err.value.code == "InvalidResponse"


@pytest.mark.parametrize("phone", ["", "12345", "138123456789", "0086 13812345678"])
def test_send_refuses_bad_phone_without_posting(phone):
    client, session = make_client(FakeResponse(OK_REPLY))
    with pytest.raises(ValueError):
        client.send(phone, ["1"])
    assert session.calls == []


def test_mask_phone():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+8613812345678") == "138****5678"
    assert mask_phone("123") == "****"


def test_tencent_gateway_sends_the_registered_template_id():
    from wechat.sms import SmsError as GatewayError
    from wechat.sms import TencentSms

    client, session = make_client(FakeResponse(OK_REPLY))
    gateway = TencentSms(client, {"verify_code": "2233445"})
    gateway.send("13812345678", "verify_code", ["123456", 5])
    sent = json.loads(session.calls[-1]["data"])
    assert sent["TemplateId"] == "2233445" and sent["TemplateParamSet"] == ["123456", "5"]
    with pytest.raises(GatewayError):
        gateway.send("13812345678", "bill_overdue", ["x", "1"])
