"""The SMS gateway: takes messages and keeps them in an outbox tests and demos can read."""

import re
import time

from flask import jsonify, request

from wechat.sandbox.common import STR, append, body_fields, error, read_list, route

PHONE = re.compile(r"^1[3-9]\d{9}$")
MESSAGE = {
    "type": "object",
    "properties": {"phone": STR, "text": STR, "sent_at": {"type": "integer"}},
}


@route(
    "/sms/send",
    ["POST"],
    "SMS gateway: send one text message",
    body={"type": "object", "required": ["phone", "text"], "properties": {"phone": STR, "text": STR}},
    answer={"type": "object", "properties": {"code": STR, "message": STR}},
)
def send():
    body, err = body_fields("phone", "text")
    if err:
        return err
    if not PHONE.match(body["phone"]):
        return error(422, "VALIDATION_ERROR", "手机号应为11位中国大陆手机号")
    append("sbx:sms:" + body["phone"], {"phone": body["phone"], "text": body["text"], "sent_at": int(time.time())})
    return jsonify({"code": "Ok", "message": "send success"})


@route(
    "/sms/outbox",
    ["GET"],
    "Sandbox: messages sent to a phone, newest last",
    query={"phone": STR},
    answer={"type": "object", "properties": {"messages": {"type": "array", "items": MESSAGE}}},
)
def outbox():
    return jsonify({"messages": read_list("sbx:sms:" + request.args.get("phone", ""))})
