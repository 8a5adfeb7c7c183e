"""One error format for every error: ``{"error": {"code", "message"}}``, and ``details``
(an object) when the error says more, e.g. which bills hold up a payment.

Messages are Chinese: patients and staff read them.
"""

import logging

import redis.exceptions
import requests
from flask import jsonify
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule said no. Subclasses fix the HTTP status and a default code."""

    status = 400
    code = "BAD_REQUEST"
    message = "请求有误"

    def __init__(self, message=None, code=None, status=None, details=None, field=None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.details = details
        #: The request field at fault, as ``bill_ids[0]`` or ``id_card.name`` (validation errors).
        self.field = field


class BadRequest(DomainError):
    pass


class Unauthorized(DomainError):
    status, code, message = 401, "UNAUTHORIZED", "请先登录"


class Forbidden(DomainError):
    status, code, message = 403, "FORBIDDEN", "无权进行此操作"


class NotFound(DomainError):
    status, code, message = 404, "NOT_FOUND", "未找到"


class Conflict(DomainError):
    status, code, message = 409, "CONFLICT", "与当前状态冲突"


class Invalid(DomainError):
    status, code, message = 422, "VALIDATION_ERROR", "参数不正确"


class TooManyRequests(DomainError):
    status, code, message = 429, "TOO_MANY_REQUESTS", "请求过于频繁，请稍后再试"


class Upstream(DomainError):
    status, code, message = 502, "UPSTREAM_ERROR", "外部服务暂时不可用，请稍后再试"


class Unavailable(DomainError):
    status, code, message = 503, "SERVICE_UNAVAILABLE", "服务暂时不可用，请稍后再试"


#: Werkzeug's HTTP errors, by status: our code and message.
HTTP_CODES = {
    400: ("BAD_REQUEST", "请求有误"),
    401: ("UNAUTHORIZED", "请先登录"),
    403: ("FORBIDDEN", "无权进行此操作"),
    404: ("NOT_FOUND", "未找到"),
    405: ("METHOD_NOT_ALLOWED", "不支持该请求方法"),
    413: ("PAYLOAD_TOO_LARGE", "请求内容过大"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "请求格式不支持"),
    429: ("TOO_MANY_REQUESTS", "请求过于频繁，请稍后再试"),
}


def error_response(status, code, message, details=None, field=None):
    error = {"code": code, "message": message}
    if field:
        error["field"] = field
    if details is not None:
        error["details"] = details
    resp = jsonify({"error": error})
    resp.status_code = status
    return resp


def register(app):
    @app.errorhandler(DomainError)
    def domain_error(e):
        return error_response(e.status, e.code, e.message, e.details, e.field)

    @app.errorhandler(HTTPException)
    def http_error(e):
        code, message = HTTP_CODES.get(e.code, ("HTTP_%d" % e.code, e.name))
        resp = error_response(e.code, code, message)
        if e.code == 405 and e.valid_methods:
            resp.headers["Allow"] = ", ".join(e.valid_methods)
        return resp

    @app.errorhandler(redis.exceptions.ConnectionError)
    @app.errorhandler(redis.exceptions.TimeoutError)
    @app.errorhandler(OperationalError)
    def backend_down(e):
        log.error("backend unavailable: %s", type(e).__name__)
        return error_response(503, "SERVICE_UNAVAILABLE", Unavailable.message)

    @app.errorhandler(requests.RequestException)
    def upstream_down(e):
        log.error("upstream call failed: %s", type(e).__name__)
        return error_response(502, "UPSTREAM_ERROR", Upstream.message)

    @app.errorhandler(Exception)
    def internal(e):
        log.exception("unhandled error")
        return error_response(500, "INTERNAL_ERROR", "服务器内部错误")
