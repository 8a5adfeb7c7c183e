"""Login, logout, phone and verified identity for the mini-program."""

from flask import Blueprint, current_app, g, jsonify, request

from postpay import authz, examples
from postpay.accounts import linking, service
from postpay.accounts.models import VERIFIED_BY
from postpay.api import BOOL, INT, RELATIONSHIP, STR, authenticator, loose, obj, route
from postpay.openapi import ERROR
from postpay.security import mask_id_number, mask_phone

bp = Blueprint("accounts", __name__, url_prefix="/api/v1")

CODE = {"type": "string", "minLength": 1, "maxLength": 128}
PHONE = {"type": "string", "pattern": "^1[3-9][0-9]{9}$"}
SMS_CODE = {"type": "string", "pattern": "^[0-9]{6}$"}
#: What a code from wx.login or getPhoneNumber may meet at WeChat.
BAD_CODE = ERROR | {"description": "INVALID_CODE: WeChat does not know the code (40029) or it was used (40163)"}
#: What linking the two apps' accounts of one person may refuse (postpay/accounts/linking.py).
LINK_CONFLICTS = ("ACCOUNT_CONFLICT", "ACCOUNTS_NOT_MERGEABLE", "IDENTITY_CONFLICT")
WECHAT_DOWN = ERROR | {"description": "UPSTREAM_ERROR: any other errcode of WeChat's (40013, 45011, -1, ...)"}
PATIENT = loose(
    id=STR,
    name=STR,
    id_number=STR,
    relationship=RELATIONSHIP,
    insured_region={"type": ["string", "null"]},
    insurance_type={"type": ["string", "null"]},
    insured_status={"type": ["string", "null"]},
    verified=BOOL,
    verified_by={"type": ["string", "null"], "enum": [*VERIFIED_BY, None]},
)
USER = loose(id=STR, has_phone=BOOL, phone={"type": ["string", "null"]}, patients={"type": "array", "items": PATIENT})


@authenticator("bearer", "user")
def bearer_user():
    """The account behind the bearer token; ``g.user_app`` is the app it signed in with (APPS)."""
    user, g.user_app = service.authenticate(request.headers.get("Authorization", ""))
    return user


def patient_json(patient, relationship="self", permissions=authz.ALL):
    return {
        "permissions": sorted(permissions),
        "id": patient.id,
        "name": patient.name,
        "id_number": mask_id_number(patient.id_number),
        "relationship": relationship,
        "insured_region": patient.insured_region,
        "insurance_type": patient.insurance_type,
        "insured_status": patient.insured_status,
        "verified": patient.verified_at is not None,
        "verified_by": patient.verified_by,
    }


def user_json(user):
    return {
        "id": user.id,
        "has_phone": user.phone is not None,
        "phone": mask_phone(user.phone),
        "patients": [patient_json(p, rel, perms) for p, rel, perms in service.account_patients(user)],
    }


@route(
    bp,
    "/auth/wechat-login",
    ["POST"],
    "Log in with a wx.login code",
    examples=examples.WECHAT_LOGIN,
    auth=None,
    body=obj(["code"], code=CODE),
    answers={200: loose(token=STR, expires_in=INT, user=USER), 400: BAD_CODE, 502: WECHAT_DOWN},
    errors={400: ("INVALID_CODE",), 409: LINK_CONFLICTS},
)
def wechat_login():
    token, user = service.login(g.body["code"])
    return jsonify({"token": token, "expires_in": current_app.config["POSTPAY_TOKEN_TTL"], "user": user_json(user)})


@route(bp, "/auth/logout", ["POST"], "Log out: the bearer token stops working", answers={204: None})
def logout():
    service.logout(request.headers["Authorization"])
    return "", 204


@route(
    bp,
    "/auth/phone",
    ["POST"],
    "Bind the phone number WeChat vouches for (getPhoneNumber code)",
    body=obj(["code"], code=CODE),
    answers={200: loose(phone=STR), 400: BAD_CODE, 502: WECHAT_DOWN},
    errors={400: ("INVALID_CODE", "UNSUPPORTED_PHONE")},
)
def phone():
    return jsonify({"phone": mask_phone(service.bind_phone(g.user, g.body["code"]))})


@route(
    bp,
    "/me/insurance-auth",
    ["POST"],
    "Verify identity with a medical-insurance e-voucher authorization",
    body=obj(["auth_code"], auth_code=CODE),
    answers={200: loose(patient=PATIENT)},
    errors={400: ("INVALID_AUTH_CODE",), 409: ("IDENTITY_CONFLICT",)},
)
def insurance_auth():
    patient = service.verify_identity(g.user, g.body["auth_code"], g.user_app)
    return jsonify({"patient": patient_json(patient)})


@route(bp, "/me", ["GET"], "The account and the patients it acts for", answers={200: loose(user=USER)})
def me():
    return jsonify({"user": user_json(g.user)})


@route(
    bp,
    "/me/link/sms",
    ["POST"],
    "Link the other app's account: send an SMS code to the phone WeChat vouched for there",
    body=obj(["phone"], phone=PHONE),
    answers={204: None},
    errors={429: ("SMS_DAILY_LIMIT", "SMS_RATE_LIMITED")},
)
def link_sms():
    linking.send_link_code(g.user, g.body["phone"])
    return "", 204


@route(
    bp,
    "/me/link/confirm",
    ["POST"],
    "Link the other app's account with the SMS code: one account; a new token (the old one ends)",
    body=obj(["phone", "code"], phone=PHONE, code=SMS_CODE),
    answers={200: loose(token=STR, expires_in=INT, user=USER)},
    errors={
        404: ("NO_ACCOUNT_FOR_PHONE",),
        409: (*LINK_CONFLICTS, "AMBIGUOUS_PHONE"),
        422: ("SMS_CODE_EXPIRED", "SMS_CODE_LOCKED", "SMS_CODE_WRONG"),
    },
)
def link_confirm():
    user = linking.confirm_link(g.user, g.body["phone"], g.body["code"])
    service.logout(request.headers["Authorization"])
    token = service.issue_token(user, g.user_app)
    return jsonify({"token": token, "expires_in": current_app.config["POSTPAY_TOKEN_TTL"], "user": user_json(user)})
