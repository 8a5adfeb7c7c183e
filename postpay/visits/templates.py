"""Template messages (模板消息) of the official account, for people who use the service there.

The template of each kind is ``WECHAT_MP_TEMPLATES[kind]``, with the keywords of its subscribe
twin (the same ``data``); a kind without one sends nothing. A template message needs no quota.
It leads to ``WECHAT_MP_TEMPLATE_URL`` when set. WeChat refuses one to a person who no longer
follows the account (43004): ``send`` says so, and the caller may reach them elsewhere.
"""

import logging

from flask import current_app

from postpay import clients
from wechat.miniprogram import WeChatError

log = logging.getLogger(__name__)

#: What ``send`` says.
SENT, NOT_SENT, NOT_FOLLOWING = "sent", "not_sent", "not_following"
#: WeChat's errcode for a person who does not follow the official account (require subscribe).
REQUIRE_SUBSCRIBE = 43004


def send(kind, user, data):
    """One template message of ``kind`` to ``user``'s official-account openid: SENT; NOT_SENT when
    the kind has no template or WeChat refused it (logged with the errcode); NOT_FOLLOWING when
    the person unfollowed the account."""
    cfg = current_app.config
    template_id = (cfg["WECHAT_MP_TEMPLATES"] or {}).get(kind)
    if not template_id:
        return NOT_SENT
    try:
        clients.mp_template_messages().send(user.oa_openid, template_id, data, url=cfg["WECHAT_MP_TEMPLATE_URL"])
    except WeChatError as e:
        if e.errcode == REQUIRE_SUBSCRIBE:
            log.info("template message %s to %s: the person does not follow the official account", kind, user.id)
            return NOT_FOLLOWING
        log.error("template message %s to %s failed: %s", kind, user.id, e.errcode)
        return NOT_SENT
    return SENT
