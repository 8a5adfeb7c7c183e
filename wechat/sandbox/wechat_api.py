"""WeChat's server API as the mini-program backend sees it: access token,
jscode2session, getuserphonenumber, subscribe messages. Errors come back as
WeChat sends them: HTTP 200 with a non-zero ``errcode``. An access token belongs to the app
whose appid and secret got it (the mini-program's, or the official account's for its template
messages, ``template.py``); each call takes only its own app's."""

import re
import secrets
import time

from flask import current_app, jsonify, request

from wechat.sandbox import apps, subscribe
from wechat.sandbox.common import OBJ, STR, append, body_fields, error, new_code, put, read_list, redis, route, take

API = "/wechat/api"
CODE_TTL = 300
TOKEN_TTL = 7200
PHONE = re.compile(r"^1[3-9]\d{9}$")
#: errcodes a code may be made to answer, to play WeChat's faults: invalid appid, rate limit, system busy.
FAULTS = {40013: "invalid appid", 45011: "api minute-quota reach limit", -1: "system error"}
FAULT = {"type": "integer", "enum": sorted(FAULTS)}


def _take_code(kind, code):
    """A single-use code's value; ``(None, 40163)`` when it was used, ``(None, 40029)`` when unknown."""
    used = "sbx:wx:used:%s:%s" % (kind, code)
    found = take("sbx:wx:%s:%s" % (kind, code))
    if found is None:
        return None, ((40163, "code been used") if redis().exists(used) else (40029, "invalid code"))
    redis().set(used, "1", ex=CODE_TTL)
    if found.get("errcode") in FAULTS:
        return None, (found["errcode"], FAULTS[found["errcode"]])
    return found, None


def _fault(body):
    """The optional ``errcode`` of a code-making control call, or an error response."""
    errcode = body.get("errcode")
    if errcode is not None and errcode not in FAULTS:
        return error(422, "VALIDATION_ERROR", "errcode 仅可为 %s" % sorted(FAULTS))
    return None


def _wx(errcode, errmsg, **extra):
    return jsonify({"errcode": errcode, "errmsg": "%s rid: %s" % (errmsg, secrets.token_hex(4)), **extra})


def token_app():
    """The appid whose access token the request's ``access_token`` is, None for an unknown one."""
    token = request.args.get("access_token", "")
    found = redis().get("sbx:wx:token:" + token) if token else None
    return found.decode() if found else None


def _token_ok():
    return token_app() == apps.mini_appid()


@route(
    "/wechat/login-codes",
    ["POST"],
    "Sandbox: a wx.login code for an openid (single use)",
    body={"type": "object", "required": ["openid"], "properties": {"openid": STR, "unionid": STR, "errcode": FAULT}},
    answer={"type": "object", "properties": {"code": STR}},
    status=201,
)
def login_code():
    body, err = body_fields("openid", optional=("unionid",))
    err = err or _fault(body)
    if err:
        return err
    code = new_code()
    login = {"openid": body["openid"], "unionid": body.get("unionid"), "errcode": body.get("errcode")}
    put("sbx:wx:login:" + code, login, CODE_TTL)
    return jsonify({"code": code}), 201


@route(
    "/wechat/phone-codes",
    ["POST"],
    "Sandbox: a getPhoneNumber code for a phone (single use)",
    body={"type": "object", "required": ["phone"], "properties": {"phone": STR, "errcode": FAULT}},
    answer={"type": "object", "properties": {"code": STR}},
    status=201,
)
def phone_code():
    body, err = body_fields("phone")
    err = err or _fault(body)
    if err:
        return err
    if not PHONE.match(body["phone"]):
        return error(422, "VALIDATION_ERROR", "手机号应为11位中国大陆手机号")
    code = new_code()
    put("sbx:wx:phone:" + code, {"phone": body["phone"], "errcode": body.get("errcode")}, CODE_TTL)
    return jsonify({"code": code}), 201


@route(
    API + "/cgi-bin/token",
    ["GET"],
    "WeChat: access token (client_credential)",
    query={"grant_type": STR, "appid": STR, "secret": STR},
)
def access_token():
    cfg = current_app.config
    secrets_by_app = {cfg["SANDBOX_WECHAT_APPID"]: cfg["SANDBOX_WECHAT_SECRET"]}
    if apps.mp_appid():
        secrets_by_app[apps.mp_appid()] = cfg["SANDBOX_WECHAT_MP_SECRET"]
    appid = request.args.get("appid")
    if appid not in secrets_by_app:
        return _wx(40013, "invalid appid")
    if request.args.get("secret") != secrets_by_app[appid]:
        return _wx(40125, "invalid appsecret")
    token = secrets.token_urlsafe(48)
    redis().set("sbx:wx:token:" + token, appid, ex=TOKEN_TTL)
    return jsonify({"access_token": token, "expires_in": TOKEN_TTL})


@route(
    API + "/sns/jscode2session",
    ["GET"],
    "WeChat: jscode2session",
    query={"appid": STR, "secret": STR, "js_code": STR, "grant_type": STR},
)
def jscode2session():
    cfg = current_app.config
    if request.args.get("appid") != cfg["SANDBOX_WECHAT_APPID"]:
        return _wx(40013, "invalid appid")
    if request.args.get("secret") != cfg["SANDBOX_WECHAT_SECRET"]:
        return _wx(40125, "invalid appsecret")
    login, refused = _take_code("login", request.args.get("js_code", ""))
    if refused:
        return _wx(*refused)
    apps.mint(cfg["SANDBOX_WECHAT_APPID"], login["openid"])
    answer = {"openid": login["openid"], "session_key": secrets.token_urlsafe(16)}
    if login.get("unionid"):
        answer["unionid"] = login["unionid"]
    return jsonify(answer)


@route(
    API + "/wxa/business/getuserphonenumber",
    ["POST"],
    "WeChat: getuserphonenumber",
    query={"access_token": STR},
    body={"type": "object", "properties": {"code": STR}},
)
def getuserphonenumber():
    if not _token_ok():
        return _wx(40001, "invalid credential, access_token is invalid or not latest")
    body = request.get_json(force=True, silent=True) or {}
    found, refused = _take_code("phone", str(body.get("code", "")))
    if refused:
        return _wx(*refused)
    phone = found["phone"]
    info = {
        "phoneNumber": phone,
        "purePhoneNumber": phone,
        "countryCode": "86",
        "watermark": {"timestamp": int(time.time()), "appid": current_app.config["SANDBOX_WECHAT_APPID"]},
    }
    return jsonify({"errcode": 0, "errmsg": "ok", "phone_info": info})


@route(
    API + "/cgi-bin/message/subscribe/send",
    ["POST"],
    "WeChat: subscribeMessage.send",
    query={"access_token": STR},
    body=OBJ,
)
def subscribe_send():
    if not _token_ok():
        return _wx(40001, "invalid credential, access_token is invalid or not latest")
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        return _wx(47001, "data format error")
    if not isinstance(body.get("touser"), str) or not body["touser"]:
        return _wx(40003, "invalid openid")
    refused = subscribe.check(body.get("template_id"), body.get("data"), body.get("miniprogram_state"))
    if refused:
        return _wx(*refused)
    quota_key = "sbx:wx:sub:%s:%s" % (body["touser"], body["template_id"])
    if redis().decr(quota_key) < 0:  # each acceptance of wx.requestSubscribeMessage allows one message
        redis().incr(quota_key)
        return _wx(43101, "user refuse to accept the msg")
    body["sent_at"] = int(time.time())
    append("sbx:wx:msg:" + body["touser"], body)
    return jsonify({"errcode": 0, "errmsg": "ok"})


@route(
    "/wechat/subscriptions",
    ["POST"],
    "Sandbox: the user accepts wx.requestSubscribeMessage for a template (one message each)",
    body={"type": "object", "required": ["openid", "template_id"], "properties": {"openid": STR, "template_id": STR}},
    answer={"type": "object", "properties": {"accepted": {"type": "integer"}}},
)
def accept_subscription():
    body, err = body_fields("openid", "template_id")
    if err:
        return err
    return jsonify({"accepted": redis().incr("sbx:wx:sub:%s:%s" % (body["openid"], body["template_id"]))})


@route(
    "/wechat/messages",
    ["GET"],
    "Sandbox: subscribe messages sent to a user, oldest first",
    query={"openid": STR},
    answer={"type": "object", "properties": {"messages": {"type": "array", "items": OBJ}}},
)
def messages():
    return jsonify({"messages": read_list("sbx:wx:msg:" + request.args.get("openid", ""))})
