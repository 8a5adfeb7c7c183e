"""Web login for pages opened inside WeChat: the official account's web authorization (网页授权).

1. ``start(next)``: a random ``state`` (single use, 10 minutes), kept in Redis with the page to
   return to and handed to the browser in a cookie; the browser goes to WeChat's authorization page.
2. ``finish(code, state, cookie)``: the state must be the browser's own (the cookie) and unused;
   the code is exchanged for the openid (and the unionid, when WeChat gives it), the account found
   or created (``linking.account_for``) and a bearer token issued for app "oa". The view hands the
   token to the page in the URL fragment, which never reaches a server log or a Referer.
"""

import logging
import secrets
from urllib.parse import urlsplit

from flask import current_app

from postpay import clients
from postpay.accounts import linking, service
from postpay.accounts.models import APP_OA
from postpay.errors import BadRequest
from postpay.extensions import redis
from postpay.security import token_digest

log = logging.getLogger(__name__)

STATE_KEY = "oauth:state:%s"
#: Seconds a started sign-in may take (the person reads WeChat's page, agrees).
STATE_TTL = 600
#: The cookie that binds a state to the browser that started the sign-in.
COOKIE = "postpay_oauth_state"
COOKIE_PATH = "/oauth/wechat/"
DEFAULT_NEXT = "/mp/"
MAX_NEXT = 512


def safe_next(value):
    """``value`` when it is a path on our host (else BadRequest BAD_NEXT); DEFAULT_NEXT when empty.

    Refused: absolute URLs, scheme-relative ``//host``, backslashes (browsers read ``/\\host`` as
    ``//host``), control characters and spaces, a fragment (the token goes there), over 512 characters.
    """
    if value is None or value == "":
        return DEFAULT_NEXT
    bad = (
        len(value) > MAX_NEXT
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or "#" in value
        or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in value)
    )
    if not bad:
        parts = urlsplit(value)
        bad = bool(parts.scheme or parts.netloc)
    if bad:
        raise BadRequest("next 必须是本站的路径（以 / 开头）", code="BAD_NEXT", field="next")
    return value


def start(next_path, redirect_uri):
    """``(authorize_url, state)`` for a sign-in that returns to ``next_path`` (already checked)."""
    state = secrets.token_urlsafe(24)
    redis.set(STATE_KEY % token_digest(state), next_path, ex=STATE_TTL)
    scope = current_app.config["WECHAT_MP_OAUTH_SCOPE"]
    return clients.official_account().authorize_url(redirect_uri, state, scope), state


def finish(code, state, cookie):
    """Sign in with WeChat's answer: ``(token, user, next_path)``.

    Raises BadRequest: BAD_STATE (no state, not this browser's, used or expired), AUTH_REFUSED
    (the person did not agree: no code), INVALID_CODE (40029 unknown, 40163 used); Upstream when
    WeChat fails; Conflict as ``linking.account_for``.
    """
    if not state or not cookie or not secrets.compare_digest(state.encode(), cookie.encode()):
        raise BadRequest("登录请求无效或不是从本页面发起，请重新进入", code="BAD_STATE")
    next_path = redis.getdel(STATE_KEY % token_digest(state))
    if next_path is None:
        raise BadRequest("登录请求已过期或已使用，请重新进入", code="BAD_STATE")
    if not code:
        raise BadRequest("您未同意授权，无法登录", code="AUTH_REFUSED")
    answer = service.ask_wechat(
        "exchange_code", code, "微信授权码无效或已使用，请重新进入", client=clients.official_account()
    )
    user = linking.account_for(APP_OA, answer["openid"], answer.get("unionid"))
    token = service.issue_token(user, APP_OA)
    return token, user, next_path.decode()
