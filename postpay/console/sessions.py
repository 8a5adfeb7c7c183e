"""Console sessions, kept on the server (Redis, through Flask-Session): the browser holds only a
random session id, so signing out, a password change or deactivating the account ends a session
for good, and a copied cookie is worth nothing afterwards.

A session ends after ``POSTPAY_CONSOLE_IDLE_SECONDS`` without a request (the Redis key's TTL,
renewed on each request) and ``POSTPAY_CONSOLE_MAX_SECONDS`` after signing in, whatever happens.
It also carries a digest of the account's password hash: a new password ends every session
opened with the old one."""

import datetime as dt
import hashlib
import hmac
import time

from flask import current_app, session
from flask_session.redis import RedisSessionInterface

#: Redis keys of console sessions: this prefix + the random id in the cookie.
KEY_PREFIX = "console:session:"


def cookie_secure(config):
    """The session cookie goes over HTTPS only, unless the sandbox is on (local development
    and tests over plain HTTP); ``SESSION_COOKIE_SECURE`` can only add the flag, never drop it."""
    return bool(config.get("SESSION_COOKIE_SECURE")) or not config.get("POSTPAY_SANDBOX")


def init_app(app):
    """Keep sessions in the app's Redis (real or in-process) with the console's timeouts and cookie flags."""
    cfg = app.config
    cfg["SESSION_COOKIE_SECURE"] = cookie_secure(cfg)
    cfg["SESSION_COOKIE_HTTPONLY"] = True
    cfg["SESSION_COOKIE_SAMESITE"] = cfg.get("SESSION_COOKIE_SAMESITE") or "Lax"
    cfg["PERMANENT_SESSION_LIFETIME"] = dt.timedelta(seconds=cfg["POSTPAY_CONSOLE_IDLE_SECONDS"])
    cfg["SESSION_REFRESH_EACH_REQUEST"] = True  # each request renews the idle timeout
    app.session_interface = ConsoleSessionInterface(
        app, client=app.extensions["redis"], key_prefix=KEY_PREFIX, permanent=True
    )


class ConsoleSessionInterface(RedisSessionInterface):
    """Sessions under ``/console`` only. The mini-program carries bearer tokens and the HIS,
    kiosks and WeChat sign their requests: those requests get Flask's null session, so they
    make no session id and touch no Redis key (a notification costs ~30 µs less)."""

    def open_session(self, app, request):
        if not request.path.startswith("/console"):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if not self.is_null_session(session):
            super().save_session(app, session, response)


def _password_digest(staff):
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, staff.password_hash.encode(), hashlib.sha256).hexdigest()


def begin(staff):
    """Sign ``staff`` in: a fresh session under a new id (the old one, and any id planted in the
    browser before, is dropped)."""
    session.clear()
    session["staff_id"] = staff.id
    session["signed_in_at"] = int(time.time())
    session["password"] = _password_digest(staff)
    current_app.session_interface.regenerate(session)


def end():
    """Sign out: the stored session is deleted and the browser told to drop its cookie."""
    session.clear()


def signed_in_id():
    """The staff id of this session if it is still in force (younger than the absolute limit), else None."""
    staff_id, since = session.get("staff_id"), session.get("signed_in_at")
    if not staff_id or not since:
        return None
    if time.time() - since > current_app.config["POSTPAY_CONSOLE_MAX_SECONDS"]:
        return None
    return staff_id


def still_valid_for(staff):
    """Whether the password the session was opened with is still the account's password."""
    return hmac.compare_digest(session.get("password") or "", _password_digest(staff))
