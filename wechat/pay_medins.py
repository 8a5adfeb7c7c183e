"""WeChat Pay's medical-insurance orders (医保支付, ``/v3/med-ins/orders``), signed and verified
like every other v3 call by ``pay.WeChatPay`` (as the provider: Authorization ``mchid`` is ours,
the hospital is ``sub_mchid``). ``payer``/``relative``: the name and the identity number's MD5
digest, each RSA-OAEP encrypted with the WeChat Pay public key (the request names that key in
``Wechatpay-Serial``), as the provider reference's example does (wechatpay-apiv3/wechatpay-skills,
create_partner_med_ins_order.go).

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
    """The digest WeChat matches an identity against: MD5 hex (lower case) of the upper-case number."""
    return hashlib.md5(id_number.strip().upper().encode()).hexdigest()


def encrypt(client, text):
    """A sensitive field as WeChat wants it: RSA-OAEP with the WeChat Pay public key, base64."""
    return rsa_encrypt(text, client.public_key)


def person(client, name, id_number):
    """``payer`` / ``relative``: the name and the id digest, both encrypted."""
    return {"name": encrypt(client, name), "id_digest": encrypt(client, id_digest(id_number)), "card_type": "ID_CARD"}


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


def notify_refund(client, mix_trade_no, body):
    """``POST /v3/med-ins/refunds/notify?mix_trade_no=``: tell WeChat the insurance part was refunded
    (6203). ``body``: sub_mchid, med_refund_total_fee, med_refund_gov_fee, med_refund_self_fee,
    med_refund_other_fee, refund_time, out_refund_no. WeChat answers 204. Raises PayError,
    requests.RequestException."""
    client.request("POST", "/v3/med-ins/refunds/notify?mix_trade_no=%s" % mix_trade_no, body)
