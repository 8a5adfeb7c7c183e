"""Template messages (模板消息) of the official account, for people who use the service there.

The template of each kind is ``WECHAT_MP_TEMPLATES[kind]``, with the keywords of its subscribe
twin (the same ``data``); a kind without one sends nothing. A template message needs no quota.
It leads to ``WECHAT_MP_TEMPLATE_URL`` when set.
"""

import logging

from flask import current_app

from postpay import clients
from wechat.miniprogram import WeChatError

log = logging.getLogger(__name__)


def send(kind, user, data):
    """One template message of ``kind`` to ``user``'s official-account openid. Returns 1 if sent,
    0 when the kind has no template or WeChat refused it (logged with the errcode)."""
    cfg = current_app.config
    template_id = (cfg["WECHAT_MP_TEMPLATES"] or {}).get(kind)
    if not template_id:
        return 0
    try:
        clients.mp_template_messages().send(user.oa_openid, template_id, data, url=cfg["WECHAT_MP_TEMPLATE_URL"])
    except WeChatError as e:
        log.error("template message %s to %s failed: %s", kind, user.id, e.errcode)
        return 0
    return 1
