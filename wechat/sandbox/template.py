"""The official account's template messages (模板消息) as WeChat checks them:
``POST /cgi-bin/message/template/send?access_token=`` ("发送模板消息",
https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Template_Message_Interface.html).

- the access token must be the official account's (its appid and secret, ``/cgi-bin/token``):
  anything else 40001;
- ``touser`` an openid the official account gave out (its web authorization): else 40003;
- ``touser`` follows the account (关注): else 43004 require subscribe. Everyone the account gave
  an openid to follows it (its menu, where its pages are, shows to followers only) until the
  test says otherwise: ``POST /sandbox/wechat/oa-followers`` ``{"openid", "follows": false}``
  (取消关注), ``true`` to follow again;
- ``template_id`` one the account picked: else 40037 invalid template_id;
- ``data`` has exactly the template's keywords, each ``{"value": ...}``: a classic template's
  ``first``/``keywordN``/``remark`` take any text up to 200 characters (the sandbox's bound); a
  category template's typed keywords (``thing1``, ``amount2``, ...) follow the rules of the keyword
  types ("模板消息参数值内容限制说明": thing 20 characters, character_string 32, phrase 5 Chinese
  characters, const 20, time, amount, number, ...) and no keyword may hold a line break or other
  control character: else 47003 argument invalid;
- ``url``, optional, an http(s) link: else 47003.
A good message answers ``{"errcode": 0, "errmsg": "ok", "msgid"}``; ``GET /sandbox/wechat/template-messages``
reads what was sent, for tests.
"""

import re
import secrets
import time

from flask import jsonify, request

from wechat.sandbox import apps
from wechat.sandbox.common import OBJ, STR, append, body_fields, error, read_list, redis, route
from wechat.sandbox.subscribe import RULES
from wechat.sandbox.wechat_api import API, _wx, token_app

#: A classic template's free keyword; a category template's typed ones (``RULES`` and ``const``).
FREE = "free"
TYPES = dict(RULES, const=re.compile(r"[\s\S]{1,20}"), free=re.compile(r"[\s\S]{1,200}"))
CONTROL = re.compile(r"[\x00-\x1f\x7f]")

#: The templates the sandbox's official account picked: id -> keyword -> type. Every template our
#: service sends (``WECHAT_MP_TEMPLATES``) is here, with the keywords of its subscribe twin.
TEMPLATES = {
    "OA_TPL_VISIT_CALLED": {"thing1": "thing", "thing2": "thing", "time3": "time"},
    "OA_TPL_REPORT_READY": {"thing1": "thing", "thing2": "thing", "time3": "time"},
    "OA_TPL_VISIT_FINISHED": {"thing1": "thing", "thing2": "thing", "time3": "time"},
    "OA_TPL_BILL_DUE": {"thing1": "thing", "amount2": "amount", "time3": "time"},
    "OA_TPL_BILL_OVERDUE": {"thing1": "thing", "amount2": "amount", "thing3": "thing"},
    "OA_TPL_REFUND_RESULT": {"thing1": "thing", "amount2": "amount", "phrase3": "phrase", "thing4": "thing"},
    "OA_TPL_CREDIT_STATUS": {"phrase1": "phrase", "thing2": "thing", "time3": "time"},
    "OA_TPL_RECEIPT_READY": {
        "thing1": "thing",
        "amount2": "amount",
        "character_string3": "character_string",
        "time4": "time",
    },
    #: a classic ({{first.DATA}}) template, for trying its rules
    "OA_TPL_SANDBOX_CLASSIC": {"first": FREE, "keyword1": FREE, "keyword2": FREE, "remark": FREE},
}
#: A category template with a keyword of every type, for trying the rules.
EVERY_TYPE = "OA_TPL_SANDBOX_EVERY_TYPE"
TEMPLATES[EVERY_TYPE] = {"%s%d" % (kind, i): kind for i, kind in enumerate(sorted(set(TYPES) - {FREE}), 1)}
URL = re.compile(r"https?://[^\s]{1,1000}")
#: The openids that unfollowed the official account.
UNFOLLOWED = "sbx:wx:mp:unfollowed"


def check(body):
    """``(errcode, errmsg)`` for a refused message, None for a good one."""
    if not isinstance(body.get("touser"), str) or apps.app_of(body["touser"]) != apps.mp_appid():
        return 40003, "invalid openid"
    if redis().sismember(UNFOLLOWED, body["touser"]):
        return 43004, "require subscribe"
    template_id = body.get("template_id")
    keywords = TEMPLATES.get(template_id) if isinstance(template_id, str) else None
    if keywords is None:
        return 40037, "invalid template_id"
    if "url" in body and not (isinstance(body["url"], str) and URL.fullmatch(body["url"])):
        return 47003, "argument invalid! url invalid"
    data = body.get("data")
    if not isinstance(data, dict) or set(data) != set(keywords):
        return 47003, "argument invalid! data keywords do not match the template"
    for key, kind in keywords.items():
        entry = data[key]
        value = entry.get("value") if isinstance(entry, dict) else None
        if not isinstance(value, str) or not value:
            return 47003, "argument invalid! data.%s.value is empty" % key
        if (kind != FREE and CONTROL.search(value)) or not TYPES[kind].fullmatch(value):
            return 47003, "argument invalid! data.%s.value invalid" % key
    return None


@route(
    API + "/cgi-bin/message/template/send",
    ["POST"],
    "WeChat: 发送模板消息 (the official account's template message)",
    query={"access_token": STR},
    body=OBJ,
)
def template_send():
    if token_app() is None or token_app() != apps.mp_appid():
        return _wx(40001, "invalid credential, access_token is invalid or not latest")
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        return _wx(47001, "data format error")
    refused = check(body)
    if refused:
        return _wx(*refused)
    msgid = int(time.time() * 1000) * 1000 + secrets.randbelow(1000)
    append("sbx:wx:tpl:" + body["touser"], body | {"msgid": msgid, "sent_at": int(time.time())})
    return jsonify({"errcode": 0, "errmsg": "ok", "msgid": msgid})


@route(
    "/wechat/oa-followers",
    ["POST"],
    "Sandbox: a person follows (关注) or unfollows (取消关注) the official account",
    body={
        "type": "object",
        "required": ["openid", "follows"],
        "properties": {"openid": STR, "follows": {"type": "boolean"}},
    },
    answer={"type": "object", "properties": {"openid": STR, "follows": {"type": "boolean"}}},
)
def oa_followers():
    body, err = body_fields("openid")
    if err:
        return err
    if not isinstance(body.get("follows"), bool):
        return error(422, "VALIDATION_ERROR", "follows 应为 true 或 false")
    if body["follows"]:
        redis().srem(UNFOLLOWED, body["openid"])
    else:
        redis().sadd(UNFOLLOWED, body["openid"])
    return jsonify({"openid": body["openid"], "follows": body["follows"]})


@route(
    "/wechat/template-messages",
    ["GET"],
    "Sandbox: template messages the official account sent to a user, oldest first",
    query={"openid": STR},
    answer={"type": "object", "properties": {"messages": {"type": "array", "items": OBJ}}},
)
def template_messages():
    return jsonify({"messages": read_list("sbx:wx:tpl:" + request.args.get("openid", ""))})
