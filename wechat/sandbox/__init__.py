"""The sandbox: plays WeChat, WeChat Pay, the medical-insurance platform and the
SMS gateway with their real wire formats, mounted at ``/sandbox`` only when
``POSTPAY_SANDBOX=1``. It keeps its state in the app's Redis
(``current_app.extensions["redis"]``), so every worker sees the same codes, and
reaches the app only over HTTP, as the real parties do.

The sandbox has its own config (``SANDBOX_*``): the credentials it knows the app
by, as WeChat and the platform would, so a wrong app secret fails as it would.

``SPEC`` documents each sandbox route for ``/openapi.json``.
"""

from wechat.sandbox import (  # noqa: F401,I001  (routes register on bp)
    medins,
    medins_pay,
    micropay,
    oauth,
    pay,
    pay_bills,
    pay_jsapi,
    pay_medins,
    pay_notify,
    pay_partner,
    pay_refunds,
    sms,
    template,
    wechat_api,
)
from wechat.sandbox.common import SPEC, bp  # noqa: F401  (the app mounts bp; openapi reads SPEC)
