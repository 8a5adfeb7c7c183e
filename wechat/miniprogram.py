"""WeChat mini-program server API through wechatpy: code2session, phone number, subscribe messages.

The client is wechatpy's ``WeChatClient`` with its base URLs pointed at ``api_base``
(WeChat itself, or the sandbox). wechatpy hard-codes the access-token URL, so
:class:`_Client` overrides it. The access token lives in Redis (wechatpy's
``RedisStorage``), so every worker shares one token.
"""

from wechatpy import WeChatClient
from wechatpy.client.api.base import BaseWeChatAPI
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

WECHAT_API = "https://api.weixin.qq.com"

#: errcodes that mean the code from wx.login / getPhoneNumber is unknown (40029) or used (40163).
#: Any other errcode (40013 invalid appid, 45011 rate limit, -1 system busy, ...) is WeChat's fault
#: or ours, never the user's.
BAD_CODE = {40029, 40163}


class WeChatError(Exception):
    """WeChat answered with a non-zero errcode."""

    def __init__(self, errcode, errmsg):
        super().__init__("%s %s" % (errcode, errmsg))
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def bad_code(self):
        return self.errcode in BAD_CODE


class _Client(WeChatClient):
    def __init__(self, appid, secret, api_base, **kwargs):
        super().__init__(appid, secret, **kwargs)
        self.api_base = api_base.rstrip("/")
        self.API_BASE_URL = self.api_base + "/cgi-bin/"
        for api in vars(self).values():
            if isinstance(api, BaseWeChatAPI) and getattr(api, "API_BASE_URL", ""):
                api.API_BASE_URL = api.API_BASE_URL.replace(WECHAT_API, self.api_base)

    def fetch_access_token(self):
        return self._fetch_access_token(
            url=self.api_base + "/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


class MiniProgram:
    """The calls this service makes to WeChat for its mini-program."""

    def __init__(self, appid, secret, redis, api_base=WECHAT_API, timeout=5):
        storage = RedisStorage(redis, prefix="wechatpy")
        self.client = _Client(appid, secret, api_base, session=storage, timeout=timeout)

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except WeChatClientException as e:
            if e.errcode is None:  # HTTP-level failure
                raise WeChatError(-1, "HTTP error %s" % getattr(e.response, "status_code", "?"))
            raise WeChatError(e.errcode, e.errmsg) from None

    def code_to_session(self, code):
        """jscode2session: ``{"openid", "session_key", "unionid"?}``. Raises WeChatError."""
        return self._call(self.client.wxa.code_to_session, code)

    def phone_number(self, code):
        """getuserphonenumber (wechatpy has no method): ``phone_info``. Raises WeChatError."""
        result = self._call(
            self.client.post,
            "wxa/business/getuserphonenumber",
            data={"code": code},
            api_base_url=self.client.api_base + "/",
        )
        return result["phone_info"]

    def send_subscribe_message(self, openid, template_id, data, page=None):
        """subscribeMessage.send. Raises WeChatError (43101: the user has not subscribed)."""
        return self._call(self.client.wxa.send_subscribe_message, openid, template_id, data, page)
