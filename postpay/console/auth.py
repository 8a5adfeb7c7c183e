"""Console sign-in: hashed passwords, lockout after repeated failures, CSRF on every form,
and the one check every page makes (signed in, role, hospital)."""

import functools
import logging

from flask import current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect
from werkzeug.security import check_password_hash, generate_password_hash

from postpay.console.models import AuditEntry, Role, StaffAccount
from postpay.errors import Forbidden, Invalid, NotFound, Unauthorized
from postpay.extensions import db, redis
from postpay.his.models import Hospital

log = logging.getLogger(__name__)
csrf = CSRFProtect()

FAILURES = "console:login-failures:%s"
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


def authenticate(username, password):
    """The account for these credentials. Raises Unauthorized (ACCOUNT_LOCKED, BAD_CREDENTIALS)."""
    cfg = current_app.config
    key = FAILURES % username.lower()
    if int(redis.get(key) or 0) >= cfg["POSTPAY_STAFF_MAX_FAILURES"]:
        raise Unauthorized(
            "连续登录失败次数过多，账号已锁定，请%d分钟后再试或联系主管" % (cfg["POSTPAY_STAFF_LOCK_SECONDS"] // 60),
            code="ACCOUNT_LOCKED",
        )
    staff = StaffAccount.query.filter_by(username=username).one_or_none()
    ok = check_password_hash(staff.password_hash if staff else _DUMMY, password)
    if not (ok and staff and staff.active):
        failures = redis.incr(key)
        redis.expire(key, cfg["POSTPAY_STAFF_LOCK_SECONDS"])
        log.warning("console login failed for %s (%d)", username[:64], failures)
        raise Unauthorized("用户名或密码错误", code="BAD_CREDENTIALS")
    redis.delete(key)
    return staff


def current_staff():
    staff_id = session.get("staff_id")
    staff = db.session.get(StaffAccount, staff_id) if staff_id else None
    return staff if staff is not None and staff.active else None


def require(*roles):
    """The page needs a signed-in, active account of one of ``roles``; else the login page (or 403)."""

    def deco(fn):
        @functools.wraps(fn)
        def view(*args, **kwargs):
            g.staff = current_staff()
            if g.staff is None:
                session.clear()
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
