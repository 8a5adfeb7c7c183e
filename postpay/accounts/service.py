"""WeChat login, bearer tokens, the account's phone and its verified identity."""

import logging

import requests
from flask import current_app
from sqlalchemy.exc import IntegrityError

from postpay import authz, clients
from postpay.accounts import identity, linking
from postpay.accounts.models import APP_MINI, Patient, User
from postpay.clock import utcnow
from postpay.errors import BadRequest, Conflict, Invalid, Unauthorized, Upstream
from postpay.extensions import db, redis
from postpay.security import blind_index, decrypt, encrypt, new_token, token_digest
from wechat.medins import BAD_AUTH_CODE, E_VOUCHER, REFUSED_1101, MedinsError
from wechat.miniprogram import WeChatError

log = logging.getLogger(__name__)

TOKEN_KEY = "auth:token:%s"
SESSION_KEY = "auth:wxsession:%s"
WECHAT_DOWN = "微信服务暂时不可用，请稍后重试"


def _ttl():
    return int(current_app.config["POSTPAY_TOKEN_TTL"])


def login(code):
    """Exchange a wx.login code for a bearer token; find or create the account by openid, else by
    unionid (the person's official-account account: ``linking.account_for``).

    Raises BadRequest (INVALID_CODE) for an unknown or reused code, Upstream when WeChat fails,
    Conflict as ``linking.account_for``.
    Returns ``(token, user)``.
    """
    session = ask_wechat("code_to_session", code, "登录凭证无效或已使用，请重新登录")
    user = linking.account_for(APP_MINI, session["openid"], session.get("unionid"))
    token = issue_token(user, APP_MINI)
    # WeChat's session_key stays on the server, encrypted, for later decryption needs.
    redis.set(SESSION_KEY % user.id, encrypt(session["session_key"], "wx_session_key"), ex=_ttl())
    return token, user


def issue_token(user, app):
    """A new bearer token for ``user`` signed in through ``app`` (APPS): the token remembers the
    app, so a payment asks WeChat for the app's appid and openid. The account's ``last_app``
    (where its messages go) becomes ``app``."""
    token = new_token()
    redis.set(TOKEN_KEY % token_digest(token), "%s %s" % (user.id, app), ex=_ttl())
    user.last_app = app
    db.session.flush()
    log.info("login user=%s app=%s", user.id, app)
    return token


def ask_wechat(call, code, bad_code_message, client=None):
    """One WeChat call with a one-time code (of the mini-program's client, or ``client``):
    BadRequest (INVALID_CODE) for an unknown or used code (40029, 40163); any other errcode is
    Upstream, logged with the errcode (never the code)."""
    try:
        return getattr(client or clients.wechat(), call)(code)
    except WeChatError as e:
        if e.bad_code:
            raise BadRequest(bad_code_message, code="INVALID_CODE") from None
        log.error("wechat %s failed: errcode %s", call, e.errcode)
        raise Upstream(WECHAT_DOWN) from None


def authenticate(header):
    """``(user, app)`` behind ``Authorization: Bearer <token>``: the account and the app (APPS)
    it signed in with. Raises Unauthorized."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    value = redis.get(TOKEN_KEY % token_digest(token.strip()))
    user_id, _, app = value.decode().partition(" ") if value else ("", "", "")
    user = db.session.get(User, user_id) if user_id else None
    if user is None:
        raise Unauthorized("登录已过期或无效，请重新登录")
    return user, app or APP_MINI


def logout(header):
    """Forget the bearer token (and nothing else: other devices stay logged in)."""
    token = header.partition(" ")[2].strip()
    redis.delete(TOKEN_KEY % token_digest(token))


def session_key(user):
    """WeChat's session_key for the user's current login, decrypted; None when expired."""
    raw = redis.get(SESSION_KEY % user.id)
    return decrypt(raw.decode(), "wx_session_key") if raw else None


def bind_phone(user, code):
    """Store the phone WeChat vouches for (getuserphonenumber). Raises BadRequest, Upstream."""
    info = ask_wechat("phone_number", code, "手机号授权码无效或已使用")
    if info.get("countryCode") != "86":
        raise BadRequest("仅支持中国大陆手机号", code="UNSUPPORTED_PHONE")
    user.phone = info["purePhoneNumber"]
    user.phone_index = blind_index(user.phone, "phone")
    db.session.flush()
    return user.phone


def verify_identity(user, auth_code, app=APP_MINI):
    """Make the person behind a 医保授权 auth code this account's own patient. The code was made
    for the person's openid in ``app`` (APPS): the mini-program's, or the official account's H5.

    Tencent's userQuery turns the code into payAuthNo (kept, encrypted, only as long as it is
    valid; never logged), then 1101 says who that is: psnNo, insurance type and status, region.
    Raises BadRequest (INVALID_AUTH_CODE), Conflict (IDENTITY_CONFLICT) when the account is
    already verified as someone else, Upstream when the platform fails.
    """

    def ask():
        auth = clients.medins_user_query().query(auth_code, user.openid_for(app))
        medins = clients.medical_insurance()
        person = medins.person_info(E_VOUCHER, auth["pay_auth_no"], auth["id_number"], auth["name"])
        return dict(person, pay_auth_no=auth["pay_auth_no"], pay_auth_expires_at=auth["pay_auth_expires_at"])

    person = _ask_medins("userQuery/1101", ask, "医保授权码无效或已过期，请重新授权", "INVALID_AUTH_CODE")
    patient = record_verified_person(person, "e_voucher")
    if user.patient_id and user.patient_id != patient.id:
        raise Conflict("本账号已实名认证为其他人", code="IDENTITY_CONFLICT")
    patient.pay_auth_no, patient.pay_auth_expires_at = person["pay_auth_no"], person["pay_auth_expires_at"]
    user.patient_id = patient.id
    db.session.flush()
    return patient


def verify_with(call, code, bad_message, bad_code):
    """Ask the medical-insurance platform who is behind ``code`` (``call`` of its client, e.g. a
    kiosk's ``query_ecode``) and store the verified person.

    Raises BadRequest (``bad_code``) for an unknown or used code, Upstream when the platform fails.
    """
    person = _ask_medins(call, lambda: getattr(clients.medical_insurance(), call)(code), bad_message, bad_code)
    return record_verified_person(person, "e_voucher")


def confirm_id_card(name, id_number):
    """R8 without an e-voucher: ask 1101 whether this identity number is insured under this name
    (the card was checked by staff or read by a kiosk). Returns the platform's person, or None when
    the platform does not know the number or holds another name for it.

    Raises Invalid (BAD_ID_NUMBER) for a number that fails GB 11643, Upstream when the platform
    fails or cannot be reached (logged with its code only: never the number or the name).
    """
    try:
        identity.parse(id_number)
    except ValueError as e:
        raise Invalid(str(e), code="BAD_ID_NUMBER") from None
    number = identity.normalize(id_number)
    try:
        person = _ask_medins("1101/id-card", lambda: clients.medical_insurance().person_by_id_card(number, name))
    except MedinsError:  # 1101 itself refused: no such insured person, or another name
        log.info("medins 1101 did not confirm an identity card")
        return None
    if identity.normalize(person["id_number"]) != number:
        log.error("medins 1101 answered for another identity number")
        raise Upstream()
    return person


def verify_id_card(name, id_number, by, refused_message, refused_code):
    """``confirm_id_card`` and store the verified person (``verified_by`` = ``by``); returns the patient.

    Raises Invalid (``refused_code``) when the platform does not confirm the name and number, as
    ``confirm_id_card`` otherwise.
    """
    person = confirm_id_card(name.strip(), id_number)
    if person is None:
        raise Invalid(refused_message, code=refused_code)
    return record_verified_person(person, by)


def _ask_medins(what, ask, bad_message=None, bad_code=None):
    """``ask()``; BadRequest (``bad_code``) for a bad, used or expired code, Upstream for any
    other refusal or an unreachable platform (logged with the platform's code only). Without
    ``bad_code``, 1101's own refusal is let through as the MedinsError."""
    try:
        return ask()
    except MedinsError as e:
        if e.code == REFUSED_1101 and bad_code is None:
            raise
        if e.code == BAD_AUTH_CODE and bad_code:
            raise BadRequest(bad_message, code=bad_code) from None
        log.error("medins %s failed: %s", what, e.code)
        raise Upstream() from None
    except requests.RequestException as e:
        log.error("medins %s unreachable: %s", what, type(e).__name__)
        raise Upstream() from None


def record_verified_person(person, by):
    """Store what the medical-insurance platform vouched for, asked for ``by`` (one of
    ``models.VERIFIED_BY``: the latest confirmation's, but a relative's request never replaces
    another); returns the (verified) patient.

    Raises Upstream when the platform's identity number fails its check digit.
    """
    try:
        birth, sex = identity.parse(person["id_number"])
    except ValueError as e:
        log.error("medins returned an invalid identity number")
        raise Upstream(str(e)) from None
    patient = upsert_patient(person["name"], person["id_number"], birth, sex)
    patient.insured_region = person["insured_region"]
    patient.insurance_type = person["insurance_type"]
    patient.insured_status = person["insured_status"]
    patient.psn_no = person["psn_no"]
    if by != "relative" or patient.verified_at is None:  # a relative's request confirms no card
        patient.verified_by = by
    patient.verified_at = utcnow()
    db.session.flush()
    return patient


def find_patient(id_number):
    """The patient with this identity number, or None."""
    index = blind_index(identity.normalize(id_number), "id_number")
    return Patient.query.filter_by(id_number_index=index).one_or_none()


def upsert_patient(name, id_number, birth, sex):
    """Find the patient by identity number or create it (unverified); keeps the latest name."""
    number = identity.normalize(id_number)
    patient = find_patient(number)
    if patient is None:
        try:
            with db.session.begin_nested():
                patient = Patient(
                    name=name,
                    id_number=number,
                    id_number_index=blind_index(number, "id_number"),
                    birth_date=birth,
                    sex=sex,
                )
                db.session.add(patient)
        except IntegrityError:  # created concurrently
            patient = find_patient(number)
    patient.name = name
    return patient


def account_patients(user):
    """``[(patient, relationship, permissions)]``: its own patient first, then bound relatives."""
    found = authz.relationships(user)
    patients = {p.id: p for p in Patient.query.filter(Patient.id.in_(found))} if found else {}
    ordered = sorted(found.items(), key=lambda kv: kv[1][0] != "self")
    return [(patients[pid], rel, sorted(perms)) for pid, (rel, perms) in ordered if pid in patients]
