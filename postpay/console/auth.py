"""Console sign-in: hashed passwords, lockout after repeated failures (per account and per
address, counted before the password is checked), server-side sessions (``sessions.py``),
CSRF on every form, and the one check every page makes (signed in, role, hospital)."""

import functools
import logging

from flask import current_app, g, redirect, request, url_for
from flask_wtf.csrf import CSRFProtect
from werkzeug.security import check_password_hash, generate_password_hash

from postpay.console import sessions
from postpay.console.models import AuditEntry, Role, StaffAccount
from postpay.errors import Forbidden, Invalid, NotFound, Unauthorized
from postpay.extensions import db, redis
from postpay.hospitals.models import Hospital

log = logging.getLogger(__name__)
csrf = CSRFProtect()

FAILURES = "console:login-failures:%s"
IP_FAILURES = "console:login-failures-ip:%s"
#: Compared against when the username is unknown, so both cases take as long.
_DUMMY = generate_password_hash("not-a-password")

#: Who may open what: roles allowed per area.
DESK = (Role.window, Role.supervisor, Role.admin)
OVERSIGHT = (Role.supervisor, Role.admin)


def create_staff(username, password, role, hospital_code):
    """A console account. Raises Invalid (WEAK_PASSWORD, UNKNOWN_ROLE, USERNAME_TAKEN), NotFound (hospital)."""
    if role not in Role.__members__:
        raise Invalid("角色应为 window、supervisor 或 admin", code="UNKNOWN_ROLE")
    if len(password or "") < 8:
        raise Invalid("密码至少8位", code="WEAK_PASSWORD")
    hospital = Hospital.query.filter_by(code=hospital_code).one_or_none()
    if hospital is None:
        raise NotFound("未找到医院 %s" % hospital_code)
    if StaffAccount.query.filter_by(username=username).first():
        raise Invalid("用户名已存在", code="USERNAME_TAKEN")
    staff = StaffAccount(
        username=username, password_hash=generate_password_hash(password), role=Role(role), hospital_id=hospital.id
    )
    db.session.add(staff)
    db.session.flush()
    return staff


#: INCR and, on the first attempt of a window or on reaching the limit, (re)start the key's TTL.
#: One atomic step, so concurrent attempts each get their own number.
_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 or n == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""
#: Give back one attempt (a successful sign-in is no failure), never creating the key anew.
_GIVE_BACK = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end return 0"


def _count(key, ttl, limit):
    return int(redis.eval(_COUNT, 1, key, ttl, limit))


def authenticate(username, password, client_ip=None):
    """The account for these credentials.

    Each attempt is counted before the password is looked at (per address, then per account),
    so concurrent guesses cannot slip past the limits: past ``POSTPAY_STAFF_IP_MAX_FAILURES``
    from one address, or ``POSTPAY_STAFF_MAX_FAILURES`` for one account, the attempt is refused
    unevaluated until the window lapses. Raises Unauthorized (TOO_MANY_ATTEMPTS, ACCOUNT_LOCKED,
    BAD_CREDENTIALS).
    """
    cfg = current_app.config
    ip_key = IP_FAILURES % (client_ip or "-")
    ip_window = cfg["POSTPAY_STAFF_IP_WINDOW_SECONDS"]
    if _count(ip_key, ip_window, cfg["POSTPAY_STAFF_IP_MAX_FAILURES"]) > cfg["POSTPAY_STAFF_IP_MAX_FAILURES"]:
        log.warning("console login refused for %s: too many failures from %s", username[:64], client_ip)
        raise Unauthorized(
            "登录失败次数过多，请%d分钟后再试或联系主管" % max(1, ip_window // 60), code="TOO_MANY_ATTEMPTS"
        )
    key = FAILURES % username.lower()
    failures = _count(key, cfg["POSTPAY_STAFF_LOCK_SECONDS"], cfg["POSTPAY_STAFF_MAX_FAILURES"])
    if failures > cfg["POSTPAY_STAFF_MAX_FAILURES"]:
        log.warning("console login refused for %s: account locked (%d)", username[:64], failures)
        raise Unauthorized(
            "连续登录失败次数过多，账号已锁定，请%d分钟后再试或联系主管" % (cfg["POSTPAY_STAFF_LOCK_SECONDS"] // 60),
            code="ACCOUNT_LOCKED",
        )
    staff = StaffAccount.query.filter_by(username=username).one_or_none()
    ok = check_password_hash(staff.password_hash if staff else _DUMMY, password)
    if not (ok and staff and staff.active):
        log.warning("console login failed for %s (%d)", username[:64], failures)
        raise Unauthorized("用户名或密码错误", code="BAD_CREDENTIALS")
    redis.delete(key)
    redis.eval(_GIVE_BACK, 1, ip_key)
    return staff


def set_password(username, password):
    """A new password for a console account; every session opened with the old one ends, and a
    lock from failed attempts is lifted. Raises Invalid (WEAK_PASSWORD), NotFound."""
    if len(password or "") < 8:
        raise Invalid("密码至少8位", code="WEAK_PASSWORD")
    staff = _account(username)
    staff.password_hash = generate_password_hash(password)
    redis.delete(FAILURES % username.lower())
    db.session.flush()
    return staff


def deactivate(username):
    """Disable a console account: its sessions end at their next request and it cannot sign in. Raises NotFound."""
    staff = _account(username)
    staff.active = False
    db.session.flush()
    return staff


def _account(username):
    staff = StaffAccount.query.filter_by(username=username).one_or_none()
    if staff is None:
        raise NotFound("未找到账号 %s" % username)
    return staff


def current_staff():
    """The signed-in account: a server-side session in force, for an active account whose password
    has not changed since."""
    staff_id = sessions.signed_in_id()
    staff = db.session.get(StaffAccount, staff_id) if staff_id else None
    if staff is None or not staff.active or not sessions.still_valid_for(staff):
        return None
    return staff


def require(*roles):
    """The page needs a signed-in, active account of one of ``roles``; else the login page (or 403)."""

    def deco(fn):
        @functools.wraps(fn)
        def view(*args, **kwargs):
            g.staff = current_staff()
            if g.staff is None:
                sessions.end()
                return redirect(url_for("console.login", next=request.path))
            if g.staff.role not in roles:
                raise Forbidden("您的角色无权使用此功能", code="ROLE_DENIED")
            return fn(*args, **kwargs)

        return view

    return deco


def in_scope(staff, hospital_id):
    """Raises NotFound for another hospital's record (an admin sees every hospital)."""
    if not staff.sees_all and hospital_id != staff.hospital_id:
        raise NotFound("未找到该记录")


def scoped(query, column, staff):
    return query if staff.sees_all else query.where(column == staff.hospital_id)


def audit(staff, action, patient_id=None, target=None, **detail):
    """Append one audit entry (committed with the request)."""
    db.session.add(
        AuditEntry(
            staff_id=staff.id,
            username=staff.username,
            hospital_id=staff.hospital_id,
            action=action,
            patient_id=patient_id,
            target=target,
            detail=detail,
            client_ip=(request.remote_addr or "")[:64] if request else None,
        )
    )
