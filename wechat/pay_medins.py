"""WeChat Pay's medical-insurance orders (医保支付, ``/v3/med-ins/orders``), signed and verified
like every other v3 call by ``pay.WeChatPay``. Names travel RSA-OAEP encrypted with the
WeChat Pay public key (the request names that key in ``Wechatpay-Serial``); identity
numbers travel only as a digest.

``mix_pay_type``: CASH_ONLY, INSURANCE_ONLY or CASH_AND_INSURANCE. The notification
(``MEDICAL_INSURANCE.SUCCESS``) carries ``mix_pay_status`` (MIX_PAY_SUCCESS, MIX_PAY_FAIL),
``self_pay_status`` and ``med_ins_pay_status``; WeChat stops sending it after about
30 seconds, so the merchant polls pending orders.
"""

import hashlib

from wechatpayv3.utils import rsa_encrypt

PATH = "/v3/med-ins/orders"
#: The order's states in WeChat's words.
MIX_SUCCESS, MIX_FAIL = "MIX_PAY_SUCCESS", "MIX_PAY_FAIL"


def id_digest(id_number):
    """The digest WeChat matches an identity against: MD5 hex of the upper-case number."""
    return hashlib.md5(id_number.strip().upper().encode()).hexdigest()


def encrypt_name(client, name):
    """A name as WeChat wants sensitive fields: RSA-OAEP with the WeChat Pay public key, base64."""
    return rsa_encrypt(name, client.public_key)


def mix_pay_type(insurance_fen, cash_fen):
    if insurance_fen and cash_fen:
        return "CASH_AND_INSURANCE"
    return "INSURANCE_ONLY" if insurance_fen else "CASH_ONLY"


def create_order(client, body):
    """``POST /v3/med-ins/orders``: returns ``{"mix_trade_no", "mix_pay_status", "prepay_id", ...}``.
    Raises PayError, requests.RequestException."""
    return client.request("POST", PATH, body)


def query_order(client, out_trade_no, sub_mchid):
    """The order as WeChat sees it (the notification's resource). Raises PayError (ORDER_NOT_EXIST)."""
    return client.request("GET", "%s/out-trade-no/%s?sub_mchid=%s" % (PATH, out_trade_no, sub_mchid))
