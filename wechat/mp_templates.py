"""The official account's (公众号) template messages (模板消息) through wechatpy:
``WeChatClient.message.send_template``, ``POST /cgi-bin/message/template/send``.

A template message needs no subscription quota, only an openid of the official account and a
template the account picked; each keyword's value must fit its type, as for subscribe messages.
The client is wechatpy's, with its base URLs pointed at ``api_base`` (WeChat or the sandbox) and
the official account's own access token (``/cgi-bin/token`` with its appid and secret), kept in
Redis under its appid, so every worker shares one token.
"""

from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

from wechat.miniprogram import WECHAT_API, WeChatError, _Client


class TemplateMessages:
    """The official account's template-message sends."""

    def __init__(self, appid, secret, redis, api_base=WECHAT_API, timeout=5):
        storage = RedisStorage(redis, prefix="wechatpy")
        self.client = _Client(appid, secret, api_base, session=storage, timeout=timeout)

    def send(self, openid, template_id, data, url=None):
        """发送模板消息: returns WeChat's msgid. Raises WeChatError (40003 not the account's openid,
        40037 unknown template, 47003 a keyword's value refused, 43004 the user does not follow)."""
        try:
            return self.client.message.send_template(openid, template_id, data, url=url or None)["msgid"]
        except WeChatClientException as e:
            if e.errcode is None:  # HTTP-level failure
                raise WeChatError(-1, "HTTP error %s" % getattr(e.response, "status_code", "?")) from None
            raise WeChatError(e.errcode, e.errmsg) from None
