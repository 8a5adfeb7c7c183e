"""The medical-insurance channel (R13 共济付, R14): WeChat's medical-insurance order over the
platform's settlement, and the cash part's JSAPI order beside it.

- ``place``: the cash part's JSAPI order, when there is one, and ``/v3/med-ins/orders``. Both
  requests are built from stored rows (the medical-insurance one is stored before it is sent:
  names are encrypted with random padding), so a retry sends the same and WeChat sees one order.
- ``apply``: ``MEDICAL_INSURANCE.SUCCESS`` (or the order query's same resource), checked against
  the stored split, applied once per ``mix_trade_no``; the bills are booked per channel
  (``medins`` for the insurance part, ``wechat`` for the cash part) through the ledger.
- ``query``: WeChat stops notifying after about 30 s: 6301 asks the platform, then WeChat's
  order query. ``close``: the upload revoked (6401), the cash order closed, the bills freed.
- ``refund_item`` / ``refund``: a voided item goes back through each part's own channel, in the
  proportion the bill was paid in: the insurance part through 6203 (``InsuranceRefund``), the
  cash part as an ordinary ``Refund`` on the cash order, sent by the WeChat channel's job.
  After every 6203 that succeeded, ``refund_sync`` tells WeChat (``/v3/med-ins/refunds/notify``).

Every platform call names the hospital's own 定点医药机构编号 (``Hospital.med_inst_no``); the
payAuthNo a settlement was uploaded with is kept encrypted in its payment's ``order_request``
(``PAY_AUTH``) for the WeChat order and the refunds, and is never logged.
"""

from postpay.payments.channels.medins.core import (  # noqa: F401  (the channel's interface)
    PAY_AUTH,
    apply,
    check_payer,
    close,
    keep_auth,
    kept_auth,
    may_go_on,
    notify_url,
    person,
    query,
    refresh,
    release,
    withdraw,
)
from postpay.payments.channels.medins.orders import place  # noqa: F401
from postpay.payments.channels.medins.refunds import (  # noqa: F401
    refund,
    refund_item,
    refund_job,
    refund_sync,
    refund_sync_job,
)
