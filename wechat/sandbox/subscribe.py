"""Subscribe messages as WeChat checks them: the registered templates and their keywords, and the
rules each keyword type puts on its value (subscribeMessage.send, "订阅消息参数值内容限制说明",
https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-message-management/subscribe-message/sendMessage.html).

``check`` answers ``(errcode, errmsg)`` for a refused message, None for a good one.
"""

import re

#: The templates the sandbox's mini-program has picked in the WeChat console: id -> keyword -> type.
#: Every template our service sends (``WECHAT_SUBSCRIBE_TEMPLATES``) is here.
TEMPLATES = {
    "TPL_VISIT_CALLED": {"thing1": "thing", "thing2": "thing", "time3": "time"},
    "TPL_REPORT_READY": {"thing1": "thing", "thing2": "thing", "time3": "time"},
    "TPL_VISIT_FINISHED": {"thing1": "thing", "thing2": "thing", "time3": "time"},
    "TPL_BILL_DUE": {"thing1": "thing", "amount2": "amount", "time3": "time"},
    "TPL_BILL_OVERDUE": {"thing1": "thing", "amount2": "amount", "thing3": "thing"},
    "TPL_REFUND_RESULT": {"thing1": "thing", "amount2": "amount", "phrase3": "phrase", "thing4": "thing"},
    "TPL_CREDIT_STATUS": {"phrase1": "phrase", "thing2": "thing", "time3": "time"},
    "TPL_RECEIPT_READY": {
        "thing1": "thing",
        "amount2": "amount",
        "character_string3": "character_string",
        "time4": "time",
    },
}
MINIPROGRAM_STATES = ("developer", "trial", "formal")

HAN = "\u4e00-\u9fff"
_DAY = r"(\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2})"
_CLOCK = r"([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?"
_DATE = r"%s( %s)?" % (_DAY, _CLOCK)  # a day, optionally with a 24-hour time
_TIME = r"(%s )?%s" % (_DAY, _CLOCK)  # a 24-hour time, optionally after a day
_SYMBOL = r"[^\sA-Za-z0-9%s]" % HAN
#: type -> the whole value must match (lengths are WeChat's, in characters).
RULES = {
    "thing": re.compile(r"[\s\S]{1,20}"),
    "number": re.compile(r"(?=[\d.]{1,32}$)\d+(\.\d+)?"),
    "letter": re.compile(r"[A-Za-z]{1,32}"),
    "symbol": re.compile(r"%s{1,5}" % _SYMBOL),
    "character_string": re.compile(r"[\x21-\x7e]{1,32}"),
    "time": re.compile(r"{0}(~{0})?".format(_TIME)),
    "date": re.compile(r"{0}(~{0})?".format(_DATE)),
    "amount": re.compile(r"[¥￥$]?\d{1,10}(\.\d{1,2})?元?"),
    "phone_number": re.compile(r"[\d+\-]{1,17}"),
    "car_number": re.compile(r"[%sA-Za-z0-9][A-Za-z0-9]{0,6}[%sA-Za-z0-9]?" % (HAN, HAN)),
    #: 10 Chinese characters (mixed with letters counts as Chinese), or 20 letters and symbols
    "name": re.compile(r"[%sA-Za-z·]{1,10}|[A-Za-z .·-]{1,20}" % HAN),
    "phrase": re.compile(r"[%s]{1,5}" % HAN),
}

#: A template with a keyword of every type, for testing the rules through the sandbox's HTTP face.
EVERY_TYPE = "TPL_SANDBOX_EVERY_TYPE"
TEMPLATES[EVERY_TYPE] = {"%s%d" % (kind, i): kind for i, kind in enumerate(RULES, 1)}


def check(template_id, data, state):
    """WeChat's verdict on a message for ``template_id`` with ``data`` and ``miniprogram_state``."""
    keywords = TEMPLATES.get(template_id) if isinstance(template_id, str) else None
    if keywords is None:
        return 40037, "invalid template_id"
    if state is not None and state not in MINIPROGRAM_STATES:
        return 47003, "argument invalid! miniprogram_state invalid"
    if not isinstance(data, dict):
        return 47003, "argument invalid! data invalid"
    for key, kind in keywords.items():
        entry = data.get(key)
        value = entry.get("value") if isinstance(entry, dict) else None
        if value is None or value == "":
            return 47003, "argument invalid! data.%s.value is empty" % key
        if not isinstance(value, str) or not RULES[kind].fullmatch(value):
            return 47003, "argument invalid! data.%s.value invalid" % key
    return None
