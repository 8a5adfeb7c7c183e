"""The money channels: how a payment's money moves, one module a channel.

- ``wechat``: WeChat Pay JSAPI and combine orders (a ``Payment`` of kind ``cash``);
- ``medins``: medical-insurance settlement with its cash part (kind ``medins``);
- ``window``: cash, card and micropay taken by staff at the window (no ``Payment`` row).

A kiosk pays through the same pieces: a native order (kind ``cash``, its ``code_url`` shown as a
QR code) or a micropay of several bills (kind ``micropay``, through ``payments/micropay.py``,
shared with the window).

A channel offers the same small interface: ``place`` (ask the outside world for the order),
``apply`` (a confirmation: a notification or a query's answer), ``query(payment, now)``,
``close(payment, now)`` (commits; True when closed), ``may_go_on(payer, payment)`` (R15),
``refund_item`` (a voided item of a bill it paid, R12) and ``refund(refund_id)`` with its
``refund_job``. The window takes the money at once (``window.take``); an unresolved micropay
is reversed there, and one left unknown is settled by a query (``window.settle``). Every
channel books through ``payments/ledger.py``, takes bills through ``payments/reserve.py``,
and never imports another channel (``.importlinter``): a refund's cash part is queued to the WeChat channel by name.
"""

from postpay.payments.channels import medins, wechat
from postpay.payments.models import PaymentKind

#: The channel of a payment, by its kind. A kiosk's micropay payment is taken at once by
#: ``payments/micropay.py``; afterwards it is a WeChat Pay order like any other (a voided
#: item's refund goes back through it), and the sweeps never touch it.
CHANNELS = {PaymentKind.cash: wechat, PaymentKind.medins: medins, PaymentKind.micropay: wechat}


def of(payment):
    return CHANNELS[payment.kind]
