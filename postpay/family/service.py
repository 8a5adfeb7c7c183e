"""Family bindings (R15): ask, consent, revoke."""

import logging

from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from postpay import authz, pushes, queue
from postpay.accounts import identity
from postpay.accounts.models import User
from postpay.accounts.service import confirm_id_card, find_patient, record_verified_person
from postpay.clock import utcnow
from postpay.errors import Conflict, DomainError, Invalid, NotFound
from postpay.extensions import db, redis
from postpay.family.models import Binding, BindingStatus

log = logging.getLogger(__name__)

#: Failed relative lookups an account may make per hour before it is slowed down.
MAX_FAILED_MATCHES = 5


NOT_FOUND = "未找到与姓名和身份证号匹配的参保人员，请核对后重试"


class TooManyTries(DomainError):
    status, code, message = 429, "TOO_MANY_ATTEMPTS", "尝试次数过多，请1小时后再试"


def _count_active(user_id):
    query = db.select(db.func.count(Binding.id)).where(
        Binding.user_id == user_id, Binding.status == BindingStatus.active
    )
    return db.session.execute(query).scalar_one()


def _check_room(user_id):
    if _count_active(user_id) >= current_app.config["POSTPAY_MAX_RELATIVES"]:
        raise Conflict(
            "亲情账户最多绑定%d位亲属" % current_app.config["POSTPAY_MAX_RELATIVES"], code="TOO_MANY_RELATIVES"
        )


def request_binding(user, name, id_number, relationship, permissions):
    """Ask to bind a relative; pending until the relative consents (R15), in their own account,
    at a window or at a kiosk, never from the asker's.

    The relative is a verified patient with this name and number or, for one who never used the
    service (R8), the insured person 1101 confirms for them: then a verified patient with no
    account is recorded (``verified_by`` ``relative``). Anything else is refused with one message
    (RELATIVE_NOT_FOUND) that does not say which part is wrong; failed tries are limited per
    account (TOO_MANY_ATTEMPTS). Raises Forbidden (NOT_VERIFIED), Invalid (CANNOT_BIND_SELF),
    Conflict (ALREADY_BOUND, TOO_MANY_RELATIVES), Upstream (the platform failed).
    """
    own = authz.own_patient(user)
    failures_key = "family:match-failures:%s" % user.id
    if int(redis.get(failures_key) or 0) >= MAX_FAILED_MATCHES:
        raise TooManyTries()
    relative = _relative(name.strip(), id_number)
    if relative is None:
        redis.incr(failures_key)
        redis.expire(failures_key, 3600, nx=True)
        raise Invalid(NOT_FOUND, code="RELATIVE_NOT_FOUND")
    if relative.id == own.id:
        raise Invalid("不能绑定本人", code="CANNOT_BIND_SELF")
    _check_room(user.id)
    binding = Binding(
        user_id=user.id,
        relative_patient_id=relative.id,
        relationship=relationship,
        permissions=sorted(set(permissions)),
        status=BindingStatus.pending,
    )
    try:
        with db.session.begin_nested():
            db.session.add(binding)
    except IntegrityError:
        raise Conflict("已绑定该亲属或绑定申请待确认", code="ALREADY_BOUND") from None
    log.info("binding %s requested by %s", binding.id, user.id)
    return binding


def _relative(name, id_number):
    """The verified patient of this name and number; else the one 1101 confirms (R8); else None."""
    try:
        identity.parse(id_number)
    except ValueError:
        return None
    known = find_patient(id_number)
    if known is not None and known.verified_at is not None and known.name == name:
        return known
    person = confirm_id_card(name, id_number)
    return record_verified_person(person, "relative") if person else None


def binding_for(user, binding_id):
    """A binding either side of which is ``user`` (asker, or the relative's own account). Raises NotFound."""
    binding = db.session.get(Binding, binding_id)
    if binding is None or (binding.user_id != user.id and binding.relative_patient_id != user.patient_id):
        raise NotFound("未找到该绑定")
    return binding


def consent(user, binding_id, channel="miniprogram"):
    """The relative agrees, from their own verified account (R15). Raises NotFound, Conflict."""
    binding = binding_for(user, binding_id)
    if binding.relative_patient_id != authz.own_patient(user).id:
        raise NotFound("未找到该绑定")  # the asker cannot consent for the relative
    db.session.refresh(binding, with_for_update=True)
    _check_room(binding.user_id)
    binding.transition(BindingStatus.active)
    binding.consented_at = utcnow()
    binding.consent_channel = channel
    db.session.flush()
    log.info("binding %s consented via %s", binding.id, channel)
    return binding


def revoke(user, binding_id):
    """Either side ends the binding at any time. Raises NotFound, Conflict (BINDING_STATE).

    The revoke reaches work already started: after the commit a job closes the asker's pending
    payments and open medical-insurance settlements for the relative (and those spending the
    relative's account through 共济), WeChat orders closed and uploads revoked, so the bills are
    free for the relative or another payer. Until the job has run, every confirm or retry by the
    asker is refused (authz is asked again), and an order paid meanwhile is applied as paid.
    """
    binding = binding_for(user, binding_id)
    db.session.refresh(binding, with_for_update=True)
    binding.transition(BindingStatus.revoked)
    binding.revoked_at = utcnow()
    binding.revoked_by = "user:%s" % user.id
    db.session.flush()
    pushes.after_commit(queue.enqueue, "postpay.family.jobs.close_revoked_work", binding.user_id)
    log.info("binding %s revoked by %s", binding.id, user.id)


def share_sensitive(user, binding_id, share):
    """R19: the patient lets the asker of this binding see their sensitive items, or stops.
    Raises NotFound (a stranger), Forbidden (the asker), Conflict (BINDING_STATE: revoked)."""
    binding = authz.patient_side(user, binding_id)
    db.session.refresh(binding, with_for_update=True)
    if binding.status == BindingStatus.revoked:
        raise Conflict("绑定已解除", code="BINDING_STATE")
    binding.share_sensitive = share
    db.session.flush()
    log.info("binding %s share_sensitive=%s", binding.id, share)
    return binding


def bindings_of(user):
    """``(asked, received)``: live and past bindings the account asked for, and those naming its own patient."""
    asked = db.select(Binding).where(Binding.user_id == user.id).order_by(Binding.created_at.desc())
    received = (
        db.select(Binding).where(Binding.relative_patient_id == user.patient_id).order_by(Binding.created_at.desc())
    )
    return (
        db.session.execute(asked).scalars().all(),
        db.session.execute(received).scalars().all() if user.patient_id else [],
    )


def consent_in_person(binding_id, relative_patient_id, channel):
    """R15 with R8: the relative consents in person, after an identity check: at a staffed window
    (``channel`` ``window``, for an elder with no phone account of her own) or at a kiosk that
    read her identity card or e-voucher (``kiosk``). Raises NotFound (not a pending binding of
    this relative), Conflict (ELDER_HAS_PHONE at a window, TOO_MANY_RELATIVES, BINDING_STATE)."""
    binding = db.session.get(Binding, binding_id, with_for_update=True)
    if binding is None or binding.relative_patient_id != relative_patient_id:
        raise NotFound("未找到该绑定申请")
    if channel == "window":
        has_phone = db.session.execute(
            db.select(User.id).where(User.patient_id == relative_patient_id, User.phone.isnot(None)).limit(1)
        ).first()
        if has_phone:
            raise Conflict("该老人已有本人手机账号，请在本人小程序中确认", code="ELDER_HAS_PHONE")
    _check_room(binding.user_id)
    binding.transition(BindingStatus.active)
    binding.consented_at = utcnow()
    binding.consent_channel = channel
    db.session.flush()
    log.info("binding %s consented in person via %s", binding.id, channel)
    return binding


def pending_for(patient_id):
    """Bindings waiting for this patient's consent, oldest first, with the asker's own patient (two queries)."""
    query = (
        db.select(Binding)
        .where(Binding.relative_patient_id == patient_id, Binding.status == BindingStatus.pending)
        .options(selectinload(Binding.user).selectinload(User.patient))
        .order_by(Binding.created_at, Binding.id)
    )
    return db.session.execute(query).scalars().all()
