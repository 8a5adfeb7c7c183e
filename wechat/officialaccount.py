"""The official account (公众号) through wechatpy: web authorization (网页授权).

``WeChatOAuth`` builds the authorization URL (``open.weixin.qq.com/connect/oauth2/authorize``,
``#wechat_redirect``) and exchanges the code at ``/sns/oauth2/access_token``. Both base URLs
point at ``oauth_base`` and ``api_base`` (WeChat itself, or the sandbox); every call has a timeout.
"""

from wechatpy.exceptions import WeChatOAuthException
from wechatpy.oauth import WeChatOAuth

from wechat.miniprogram import WECHAT_API, WeChatError

OAUTH_BASE = "https://open.weixin.qq.com/connect/"
SCOPES = ("snsapi_base", "snsapi_userinfo")


class _OAuth(WeChatOAuth):
    def __init__(self, appid, secret, redirect_uri, scope, state, api_base, oauth_base, timeout):
        super().__init__(appid, secret, redirect_uri, scope=scope, state=state)
        self.API_BASE_URL = api_base.rstrip("/") + "/"
        self.OAUTH_BASE_URL = oauth_base.rstrip("/") + "/"
        self.timeout = timeout

    def _request(self, method, url_or_endpoint, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        return super()._request(method, url_or_endpoint, **kwargs)


class OfficialAccount:
    """The calls this service makes to WeChat for its official account."""

    def __init__(self, appid, secret, api_base=WECHAT_API, oauth_base=OAUTH_BASE, timeout=5):
        self.appid, self.secret = appid, secret
        self.api_base, self.oauth_base, self.timeout = api_base, oauth_base, timeout

    def _oauth(self, redirect_uri="", scope="snsapi_base", state=""):
        return _OAuth(self.appid, self.secret, redirect_uri, scope, state, self.api_base, self.oauth_base, self.timeout)

    def authorize_url(self, redirect_uri, state, scope="snsapi_base"):
        """Where the browser goes to ask the person (``#wechat_redirect``): WeChat then redirects to
        ``redirect_uri?code=CODE&state=STATE``."""
        if scope not in SCOPES:
            raise ValueError("scope must be one of %s" % (SCOPES,))
        return self._oauth(redirect_uri, scope, state).authorize_url

    def exchange_code(self, code):
        """``/sns/oauth2/access_token``: ``{"openid", "access_token", "scope", "unionid"?, ...}``.

        Raises WeChatError (``bad_code`` for 40029 unknown, 40163 used; -1 for an HTTP failure).
        """
        try:
            return self._oauth().fetch_access_token(code)
        except WeChatOAuthException as e:
            if e.errcode is None:  # HTTP-level failure
                raise WeChatError(-1, "HTTP error %s" % getattr(e.response, "status_code", "?")) from None
            raise WeChatError(e.errcode, e.errmsg) from None
