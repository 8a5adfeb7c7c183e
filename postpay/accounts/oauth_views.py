"""Web login for pages opened inside WeChat (the official account): ``/oauth/wechat/start`` and
``/oauth/wechat/callback`` (postpay/accounts/oauth.py)."""

from urllib.parse import urlencode

from flask import Blueprint, current_app, redirect, request, url_for

from postpay.accounts import oauth
from postpay.accounts.views import LINK_CONFLICTS
from postpay.api import HTML, STR, route

bp = Blueprint("oauth", __name__, url_prefix="/oauth/wechat")


def _secure():
    return not current_app.config["POSTPAY_SANDBOX"] or current_app.config["SESSION_COOKIE_SECURE"]


def _private(resp):
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


@route(
    bp,
    "/start",
    ["GET"],
    "Sign in with the official account: 302 to WeChat's web authorization (snsapi_base), state in a cookie",
    auth=None,
    query={"next": STR},
    answers={302: HTML},
    errors={400: ("BAD_NEXT",)},
)
def start():
    next_path = oauth.safe_next(request.args.get("next"))
    callback = current_app.config["WECHAT_MP_REDIRECT_URI"] or url_for("oauth.callback", _external=True)
    url, state = oauth.start(next_path, callback)
    resp = redirect(url, code=302)
    resp.set_cookie(
        oauth.COOKIE,
        state,
        max_age=oauth.STATE_TTL,
        path=oauth.COOKIE_PATH,
        secure=_secure(),
        httponly=True,
        samesite="Lax",
    )
    return _private(resp)


@route(
    bp,
    "/callback",
    ["GET"],
    "WeChat's redirect after web authorization: 302 to the page with #token=...&expires_in=... (fragment only)",
    auth=None,
    query={"code": STR, "state": STR},
    answers={302: HTML},
    errors={400: ("BAD_STATE", "AUTH_REFUSED", "INVALID_CODE"), 409: LINK_CONFLICTS},
)
def callback():
    token, _user, next_path = oauth.finish(
        request.args.get("code"), request.args.get("state"), request.cookies.get(oauth.COOKIE)
    )
    fragment = urlencode({"token": token, "expires_in": current_app.config["POSTPAY_TOKEN_TTL"]})
    resp = redirect(next_path + "#" + fragment, code=302)
    resp.delete_cookie(oauth.COOKIE, path=oauth.COOKIE_PATH, secure=_secure(), httponly=True, samesite="Lax")
    return _private(resp)
