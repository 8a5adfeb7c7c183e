"""Confirming a quoted settlement (R13): the cash part's JSAPI order, when there is one, and
WeChat's medical-insurance order (``/v3/med-ins/orders``). Both requests are built from stored
rows (the medical-insurance one is stored before it is sent: names are encrypted with random
padding), so a retry sends the same and WeChat sees one order."""

import logging

import requests
from flask import current_app

from postpay import authz, clients
from postpay.api import iso
from postpay.billing.models import Bill
from postpay.errors import Conflict, Upstream
from postpay.extensions import db
from postpay.insurance import settle
from postpay.insurance.models import SettlementStatus
from postpay.insurance.service import OnHold, check_payer, settlement_for
from postpay.payments.models import PaymentOrder
from postpay.payments.service import trade_no
from wechat import pay_medins
from wechat.pay import PayError

log = logging.getLogger(__name__)


def confirm(user, settlement_id, now):
    """The payer accepts the split: the WeChat medical-insurance order is placed (once).

    The payer's right to pay for the patient, and to spend the 共济 account, is asked again
    here: a binding revoked since the quote ends it (the same answer as for a stranger).

    Raises NotFound, Forbidden (PERMISSION_DENIED, NOT_VERIFIED), Invalid (MUTUAL_AID_NOT_ALLOWED),
    Conflict (SETTLEMENT_STATE), OnHold (R14), Upstream.
    """
    settlement = settlement_for(user, settlement_id, lock=True)
    check_payer(user, settlement.patient_id, settlement.mutual_aid_patient_id)
    if settlement.status == SettlementStatus.ordered:
        return settlement
    if settlement.status != SettlementStatus.quoted:
        raise Conflict("医保结算状态为%s，不能确认" % settlement.status.value, code="SETTLEMENT_STATE")
    payment = settlement.payment
    bills = db.session.execute(
        db.select(Bill).where(Bill.id.in_([s.bill_id for s in payment.bills])).with_for_update()
    ).scalars()
    if any(b.hold_reason for b in bills):
        raise OnHold()  # R14: admitted since the quote
    payer = authz.own_patient(user)
    if not payment.order_request:
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
        payment.order_request = {"med_ins": _medins_request(settlement, user, payer)}
        db.session.commit()  # stored before WeChat hears of it: a retry sends the same
    client = clients.wechat_pay()
    try:
        body = dict(payment.order_request["med_ins"])
        if settlement.cash_order is not None:
            body["prepay_id"] = client.jsapi(_cash_request(settlement, user))
        answer = pay_medins.create_order(client, body)
    except (PayError, requests.RequestException) as e:
        log.error("medical-insurance order %s failed: %s", payment.out_trade_no, e)
        raise Upstream("微信医保支付下单失败，请稍后重试") from None
    settlement.mix_trade_no, payment.prepay_id = answer["mix_trade_no"], body.get("prepay_id")
    settlement.transition(SettlementStatus.ordered)
    settlement.ordered_at = now
    db.session.flush()
    return settlement


def _cash_request(settlement, user):
    """The JSAPI order for the cash part, built from stored rows only: the same on every retry."""
    cfg, cash, payment = current_app.config, settlement.cash_order, settlement.payment
    return {
        "appid": cfg["WECHAT_APPID"],
        "mchid": cash.mchid,
        "description": "门诊医保结算个人自付",
        "out_trade_no": cash.out_trade_no,
        "time_expire": iso(payment.expires_at.replace(microsecond=0)),
        "attach": payment.id,
        "notify_url": settle.notify_url(),
        "amount": {"total": cash.amount_fen, "currency": "CNY"},
        "payer": {"openid": user.openid},
    }


def _medins_request(settlement, user, payer):
    cfg, payment, patient = current_app.config, settlement.payment, settlement.patient
    client = clients.wechat_pay()
    body = {
        "mix_pay_type": settlement.mix_pay_type,
        "order_type": "DIAG_PAY",
        "appid": cfg["WECHAT_APPID"],
        "sub_mchid": settlement.hospital.mchid,
        "openid": user.openid,
        "payer": {
            "name": pay_medins.encrypt_name(client, payer.name),
            "id_digest": pay_medins.id_digest(payer.id_number),
            "card_type": "ID_CARD",
        },
        "pay_for_relatives": patient.id != payer.id,
        "out_trade_no": payment.out_trade_no,
        "serial_no": payment.id,
        "pay_order_id": settlement.pay_ord_id,
        "city_id": patient.insured_region or "",
        "med_inst_name": settlement.hospital.name,
        "med_inst_no": cfg["MEDINS_ORG_CODE"],
        "med_ins_order_create_time": iso(settlement.created_at),
        "total_fee": settlement.fee_sum_fen,
        "med_ins_gov_fee": settlement.fund_pay_fen,
        "med_ins_self_fee": settlement.psn_acct_pay_fen + settlement.acct_mulaid_pay_fen,
        "med_ins_other_fee": 0,
        "med_ins_cash_fee": settlement.own_pay_fen,
        "wechat_pay_cash_fee": settlement.own_pay_fen,
        "callback_url": settle.notify_url(),
        "attach": settlement.id,
    }
    if body["pay_for_relatives"]:  # a child pays for a parent: the relative's name and id digest
        body["relative"] = {
            "name": pay_medins.encrypt_name(client, patient.name),
            "id_digest": pay_medins.id_digest(patient.id_number),
            "card_type": "ID_CARD",
        }
    return body
