"""Hostile input, refused the same way on every route (no 500 for any input).

- JSON nested deeper than ``MAX_DEPTH`` levels is 400 MALFORMED_JSON, before any schema
  check walks it (3,000 levels would otherwise raise RecursionError in the parser).
- NUL (PostgreSQL refuses it in text) and lone surrogates (they have no UTF-8, so no
  database or log can take them) are 422 INVALID_CHARACTERS wherever a request carries
  text: path values, query names and values, form fields, header values, JSON strings
  and keys. Checked once for the whole app before any view runs, so no route is forgotten.
"""

import json
import re

from flask import request

from postpay.errors import BadRequest, Invalid

MAX_DEPTH = 32
_BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def refuse_bad_characters(text, where):
    """Raises Invalid (INVALID_CHARACTERS) when ``text`` holds NUL or a lone surrogate."""
    if _BAD_CHARACTERS.search(text):
        raise Invalid("%s含有不允许的字符（如空字符）" % where, code="INVALID_CHARACTERS")


def load_json(raw):
    """The JSON document in ``raw`` (bytes or str), checked as the module docstring says.

    Raises BadRequest (MALFORMED_JSON) when it is not JSON or nests deeper than MAX_DEPTH,
    Invalid (INVALID_CHARACTERS) for NUL or a lone surrogate in a string or key.
    """
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("请求体不是有效的JSON", code="MALFORMED_JSON") from None
    check_json(data)
    return data


def check_raw_json(raw):
    """For a body its handler parses itself after other checks (WeChat's notifications: the
    signature first): too deep or with bad characters is refused here as by ``load_json``;
    one that is not JSON at all is left to the handler.
    """
    try:
        data = json.loads(raw)
    except RecursionError:
        raise BadRequest("请求体嵌套超过%d层" % MAX_DEPTH, code="MALFORMED_JSON") from None
    except ValueError:
        return
    check_json(data)


def check_json(data):
    """Walk a parsed document without recursion: its depth, then every string and key."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            refuse_bad_characters(value, "请求体")
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise BadRequest("请求体嵌套超过%d层" % MAX_DEPTH, code="MALFORMED_JSON")
            if isinstance(value, dict):
                stack.extend((k, depth) for k in value)
                value = value.values()
            stack.extend((v, depth + 1) for v in value)


def check_request():
    """``before_request``: the text of the request outside its body (and a form's fields).

    On every request, so kept cheap: the headers are searched as one string straight from
    the WSGI environ, and a query can only carry NUL as ``%00`` (werkzeug decodes it with
    replacement characters, so no lone surrogate comes out of it).
    """
    for value in (request.view_args or {}).values():
        if isinstance(value, str):
            refuse_bad_characters(value, "路径")
    if b"%00" in request.query_string:
        raise Invalid("查询参数含有不允许的字符（如空字符）", code="INVALID_CHARACTERS")
    environ = request.environ
    refuse_bad_characters("".join(v for k, v in environ.items() if k[:5] == "HTTP_" and isinstance(v, str)), "请求头")
    if request.mimetype in _FORMS:
        for name, value in request.form.items(multi=True):
            refuse_bad_characters(name + value, "表单")


def init_app(app):
    app.before_request(check_request)
