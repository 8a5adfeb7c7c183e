"""The official account's web authorization (网页授权), as WeChat plays it:

- ``/wechat/connect/oauth2/authorize``: the stand-in for WeChat's authorization page. It checks
  the appid, response_type, scope and redirect_uri as WeChat does (an error page with WeChat's
  10003-10013 codes), then asks which WeChat user is in the browser and whether they agree;
  agreeing redirects to ``redirect_uri?code=CODE&state=STATE``, refusing (snsapi_userinfo) to
  ``redirect_uri?state=STATE``.
- ``/wechat/api/sns/oauth2/access_token``: appid, secret and grant_type checked; a code is single
  use (40163 when used, 40029 unknown), lives 5 minutes and belongs to the appid it was made for.
  The unionid comes only for scope snsapi_userinfo, and only for a person the test registered one
  for (the apps share an open-platform account), as WeChat's reference for snsAccessToken says.
"""

import secrets
from urllib.parse import urlencode, urlsplit

from flask import current_app, jsonify, redirect, render_template, request

from wechat.sandbox import apps
from wechat.sandbox.common import STR, body_fields, error, new_code, put, redis, route
from wechat.sandbox.wechat_api import API, CODE_TTL, FAULT, _fault, _take_code, _wx

SCOPES = ("snsapi_base", "snsapi_userinfo")
#: How long WeChat's web-authorization access_token lives.
TOKEN_TTL = 7200
#: WeChat's web-authorization page errors: code -> what it shows.
PAGE_ERRORS = {
    10003: "redirect_uri域名与后台配置不一致",
    10005: "此公众号并没有这些scope的权限",
    10010: "scope不能为空",
    10011: "redirect_uri不能为空",
    10012: "appid不能为空",
    10016: "不支持微信开放平台的Appid，请使用公众号Appid",
}
UNIONID_KEY = "sbx:wx:mp:unionid:%s"


def _unionid_of(openid):
    raw = redis().get(UNIONID_KEY % openid)
    return raw.decode() if raw else None


def _mint(appid, openid, scope, errcode=None):
    code = new_code()
    put("sbx:wx:oauth:" + code, {"appid": appid, "openid": openid, "scope": scope, "errcode": errcode}, CODE_TTL)
    return code


def _page_error(errcode):
    page = render_template("sandbox/oauth_error.html", errcode=errcode, message=PAGE_ERRORS[errcode])
    return page, 400


def _checked_request(args):
    """The authorization request's parameters, or WeChat's error page for a bad one."""
    appid, redirect_uri, scope = args.get("appid", ""), args.get("redirect_uri", ""), args.get("scope", "")
    if not appid:
        return None, _page_error(10012)
    if appid != current_app.config["SANDBOX_WECHAT_MP_APPID"]:
        return None, _page_error(10016)
    if not redirect_uri:
        return None, _page_error(10011)
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, _page_error(10003)
    if not scope:
        return None, _page_error(10010)
    if scope not in SCOPES or args.get("response_type") != "code":
        return None, _page_error(10005)
    return {"appid": appid, "redirect_uri": redirect_uri, "scope": scope, "state": args.get("state", "")}, None


def _back(redirect_uri, **params):
    sep = "&" if urlsplit(redirect_uri).query else "?"
    return redirect(redirect_uri + sep + urlencode(params), code=302)


@route(
    "/wechat/connect/oauth2/authorize",
    ["GET"],
    "WeChat: the web-authorization page (sandbox stand-in: pick the WeChat user, agree or refuse)",
    query={"appid": STR, "redirect_uri": STR, "response_type": STR, "scope": STR, "state": STR},
    answer="text/html",
)
def authorize():
    asked, refused = _checked_request(request.args)
    if refused:
        return refused
    return render_template("sandbox/oauth_authorize.html", asked=asked, openid=request.args.get("openid", ""))


@route(
    "/wechat/connect/oauth2/agree",
    ["POST"],
    "Sandbox: the person in the browser answers the authorization page (form: openid, agree)",
    answer="text/html",
    status=302,
)
def agree():
    asked, refused = _checked_request(request.form)
    if refused:
        return refused
    openid = request.form.get("openid", "").strip()
    if request.form.get("agree") != "1":
        if asked["scope"] == "snsapi_base":  # snsapi_base asks nobody: there is nothing to refuse
            return _page_error(10005)
        return _back(asked["redirect_uri"], state=asked["state"])
    if not openid or len(openid) > 64:
        return error(422, "VALIDATION_ERROR", "openid 应为1到64个字符")
    return _back(asked["redirect_uri"], code=_mint(asked["appid"], openid, asked["scope"]), state=asked["state"])


@route(
    "/wechat/oauth-codes",
    ["POST"],
    "Sandbox: a web-authorization code for an official-account openid, as if the person agreed (single use)",
    body={
        "type": "object",
        "required": ["openid"],
        "properties": {"openid": STR, "unionid": STR, "scope": {"enum": list(SCOPES)}, "errcode": FAULT},
    },
    answer={"type": "object", "properties": {"code": STR}},
    status=201,
)
def oauth_code():
    body, err = body_fields("openid", optional=("unionid", "scope"))
    err = err or _fault(body)
    if err:
        return err
    scope = body.get("scope") or "snsapi_base"
    if scope not in SCOPES:
        return error(422, "VALIDATION_ERROR", "scope 仅可为 %s" % (SCOPES,))
    if body.get("unionid"):
        redis().set(UNIONID_KEY % body["openid"], body["unionid"])
    code = _mint(current_app.config["SANDBOX_WECHAT_MP_APPID"], body["openid"], scope, body.get("errcode"))
    return jsonify({"code": code}), 201


@route(
    "/wechat/unionids",
    ["POST"],
    "Sandbox: the official account and the mini-program share an open-platform account: this person's unionid",
    body={"type": "object", "required": ["openid", "unionid"], "properties": {"openid": STR, "unionid": STR}},
    answer={"type": "object", "properties": {"openid": STR, "unionid": STR}},
)
def register_unionid():
    body, err = body_fields("openid", "unionid")
    if err:
        return err
    redis().set(UNIONID_KEY % body["openid"], body["unionid"])
    return jsonify({"openid": body["openid"], "unionid": body["unionid"]})


@route(
    API + "/sns/oauth2/access_token",
    ["GET"],
    "WeChat: web authorization, code -> access_token and openid (snsAccessToken)",
    query={"appid": STR, "secret": STR, "code": STR, "grant_type": STR},
)
def sns_access_token():
    cfg = current_app.config
    appid = request.args.get("appid", "")
    if appid != cfg["SANDBOX_WECHAT_MP_APPID"]:
        return _wx(40013, "invalid appid")
    if request.args.get("secret") != cfg["SANDBOX_WECHAT_MP_SECRET"]:
        return _wx(40125, "invalid appsecret")
    if request.args.get("grant_type") != "authorization_code":
        return _wx(40002, "invalid grant_type")
    if not request.args.get("code"):
        return _wx(41008, "missing code")
    found, refused = _take_code("oauth", request.args["code"])
    if refused:
        return _wx(*refused)
    if found["appid"] != appid:  # a code belongs to the official account it was made for
        return _wx(40029, "invalid code")
    apps.mint(appid, found["openid"])  # the official account's openid: WeChat Pay takes it under this appid only
    answer = {
        "access_token": secrets.token_urlsafe(48),
        "expires_in": TOKEN_TTL,
        "refresh_token": secrets.token_urlsafe(48),
        "openid": found["openid"],
        "scope": found["scope"],
    }
    unionid = _unionid_of(found["openid"])
    if unionid and found["scope"] == "snsapi_userinfo":
        answer["unionid"] = unionid
    return jsonify(answer)
