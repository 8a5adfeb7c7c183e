"""Placing a settlement's orders at WeChat: the cash part's JSAPI order and ``/v3/med-ins/orders``."""

import datetime as dt
import logging

import requests
from flask import current_app

from postpay import clients
from postpay.accounts.models import APP_MINI
from postpay.api import iso
from postpay.errors import Upstream
from postpay.extensions import db
from postpay.insurance.models import (
    SettlementStatus,
)
from postpay.payments import merchant
from postpay.payments.channels.medins.core import kept_auth, notify_url
from postpay.payments.models import PaymentOrder, trade_no
from wechat import pay_medins
from wechat.pay import PayError

log = logging.getLogger(__name__)


def place(settlement, user, payer, now, app=APP_MINI):
    """Place the settlement's orders at WeChat (once): the cash part's JSAPI order, when there is
    one, then the medical-insurance order, both in ``app`` (the payer's mini-program or official
    account, as ``merchant.jsapi_request`` chooses). The caller has checked the payer and the holds.
    Raises Upstream."""
    payment = settlement.payment
    if "med_ins" not in payment.order_request:
        payment.expires_at = now + dt.timedelta(minutes=current_app.config["POSTPAY_ORDER_MINUTES"])  # quote: 10
        if settlement.own_pay_fen and settlement.cash_order_id is None:
            cash = PaymentOrder(
                payment=payment,
                hospital=settlement.hospital,
                mchid=settlement.hospital.mchid,
                out_trade_no=trade_no("K", now),
                amount_fen=settlement.own_pay_fen,
            )
            db.session.add(cash)
            db.session.flush()
            settlement.cash_order_id = cash.id
        med_ins = _medins_request(settlement, merchant.payer_of(user, app), payer)
        payment.order_request = payment.order_request | {"med_ins": med_ins}
        if settlement.cash_order is not None:  # the appids its notifications name
            cash_appids = merchant.named_appids(_cash_request(settlement))
            settlement.cash_order.appid, settlement.cash_order.sub_appid = cash_appids
        db.session.commit()  # stored before WeChat hears of it: a retry sends the same
    client = clients.wechat_pay()
    try:
        body = dict(payment.order_request["med_ins"], pay_auth_no=kept_auth(payment))
        if settlement.cash_order is not None:
            body["prepay_id"] = merchant.place(client, _cash_request(settlement))
        answer = pay_medins.create_order(client, body)
    except (PayError, requests.RequestException) as e:
        log.error("medical-insurance order %s failed: %s", payment.out_trade_no, e)
        raise Upstream("微信医保支付下单失败，请稍后重试") from None
    settlement.mix_trade_no, payment.prepay_id = answer["mix_trade_no"], body.get("prepay_id")
    settlement.transition(SettlementStatus.ordered)
    settlement.ordered_at = now
    db.session.flush()
    return settlement


def _cash_request(settlement):
    """The JSAPI order for the cash part, built from stored rows only: the same on every retry, in
    the app and with the openid the stored medical-insurance order names."""
    cash, payment = settlement.cash_order, settlement.payment
    med_ins = payment.order_request["med_ins"]
    payer = (med_ins.get("sub_appid") or med_ins["appid"], med_ins.get("sub_openid") or med_ins.get("openid"))
    fields = {
        "description": "门诊医保结算个人自付",
        "out_trade_no": cash.out_trade_no,
        "time_expire": iso(payment.expires_at.replace(microsecond=0)),
        "attach": payment.id,
        "notify_url": notify_url(),
        "amount": {"total": cash.amount_fen, "currency": "CNY"},
    }
    return merchant.jsapi_request(cash.mchid, payer, fields, settlement.hospital.oa_appid)


def _medins_request(settlement, app_payer, payer):
    """``/v3/med-ins/orders`` as the provider (wechatpay-apiv3/wechatpay-skills,
    create_partner_med_ins_order.go): the payer's app (``app_payer``: ``(appid, openid)``) and the
    payer's openid under it, the hospital as sub_mchid with its med_inst_no and Tencent's city_id.
    The hospital's own official account goes as sub_appid with sub_openid, beside our appid.
    Stored without ``pay_auth_no``, which is added, decrypted, when it is sent."""
    cfg, payment, patient, hospital = current_app.config, settlement.payment, settlement.patient, settlement.hospital
    client = clients.wechat_pay()
    appid, openid = app_payer
    if appid == hospital.oa_appid and appid != cfg["WECHAT_APPID"]:
        app = {"appid": cfg["WECHAT_APPID"], "sub_appid": appid, "sub_mchid": hospital.mchid, "sub_openid": openid}
    else:
        app = {"appid": appid, "sub_mchid": hospital.mchid, "openid": openid}
    body = {
        "mix_pay_type": settlement.mix_pay_type,
        "order_type": "DIAG_PAY",
        **app,
        "payer": pay_medins.person(client, payer.name, payer.id_number),
        "pay_for_relatives": patient.id != payer.id,
        "out_trade_no": payment.out_trade_no,
        "serial_no": payment.out_trade_no[:20],
        "pay_order_id": settlement.pay_ord_id,
        "geo_location": payment.order_request["geo_location"],
        "city_id": hospital.medins_city_id,
        "med_inst_name": hospital.name,
        "med_inst_no": hospital.med_inst_no,
        "med_ins_order_create_time": iso(settlement.created_at.replace(microsecond=0)),
        "total_fee": settlement.fee_sum_fen,
        "med_ins_gov_fee": settlement.fund_pay_fen,
        "med_ins_self_fee": settlement.psn_acct_pay_fen + settlement.acct_mulaid_pay_fen,
        "med_ins_other_fee": 0,
        "med_ins_cash_fee": settlement.own_pay_fen,
        "wechat_pay_cash_fee": settlement.own_pay_fen,
        "callback_url": notify_url(),
        "attach": settlement.id,
    }
    if body["pay_for_relatives"]:  # a child pays for a parent: the relative's name and id digest
        body["relative"] = pay_medins.person(client, patient.name, patient.id_number)
    return body
