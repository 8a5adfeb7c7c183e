"""One person, two apps: the mini-program's and the official account's openids on one account.

- A login finds the account by the app's openid, else by the unionid (the other app's account of
  the same person), else creates one.
- Two rows of one person (e.g. each first seen without a unionid) become one when the unionid
  shows up or the person confirms the phone the other account's WeChat vouched for. The merge
  moves the openids, unionid, phone and verified patient of the row that goes into the row that
  stays; it never moves records: when both rows already hold any (a binding, contract, payment,
  appointment, dispute, visit subscription) it refuses, and staff merge by hand.
- Never two people: different unionids, different verified patients, or two openids of the same
  app are refused (Conflict), whatever linked them.
"""

import logging

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from postpay.accounts.models import APP_MINI, APP_OA, User
from postpay.contracts import sms_codes
from postpay.errors import Conflict, Invalid, NotFound
from postpay.extensions import db
from postpay.security import blind_index

log = logging.getLogger(__name__)

#: The column of each app's openid.
OPENID = {APP_MINI: "openid", APP_OA: "oa_openid"}
#: The subject of a linking SMS code: the account asking.
LINK_SUBJECT = "link:%s"
#: What moves from the row that goes to the row that stays (when the latter has none).
MOVED = ("openid", "oa_openid", "unionid", "phone", "phone_index", "patient_id")


class NotMergeable(Conflict):
    code, message = "ACCOUNTS_NOT_MERGEABLE", "两个账号都已有记录，无法自动合并，请联系医院客服"


def account_for(app, openid, unionid=None):
    """The account of ``openid`` in ``app`` (APPS), found or created; ``unionid`` links it to the
    person's account in the other app (merging two rows of one person, see ``merge``).

    Raises Conflict (ACCOUNT_CONFLICT) when the unionid contradicts the account's, or the person's
    account already has another openid in this app; NotMergeable, as ``merge``.
    """
    column = OPENID[app]
    mine = User.query.filter(getattr(User, column) == openid).one_or_none()
    other = _by_unionid(unionid)
    if mine is None and other is None:
        return _create(column, openid, unionid)
    if mine is None:
        if getattr(other, column) not in (None, openid):
            raise _conflict("the unionid's account has another %s" % column)
        setattr(other, column, openid)
        db.session.flush()
        return other
    if unionid and mine.unionid not in (None, unionid):
        raise _conflict("the account's unionid differs from WeChat's")
    if other is None or other.id == mine.id:
        if unionid:
            mine.unionid = unionid
            db.session.flush()
        return mine
    return merge(mine, other)


def _by_unionid(unionid):
    if not unionid:
        return None
    return User.query.filter_by(unionid=unionid).order_by(User.created_at, User.id).first()


def _create(column, openid, unionid):
    try:
        with db.session.begin_nested():
            user = User(unionid=unionid, **{column: openid})
            db.session.add(user)
    except IntegrityError:  # a concurrent first login created it
        user = User.query.filter(getattr(User, column) == openid).one()
    db.session.flush()
    return user


def _conflict(why):
    log.warning("account link refused: %s", why)
    return Conflict("该微信账号已关联其他账号，无法登录，请联系医院客服", code="ACCOUNT_CONFLICT")


def holds_records(user):
    """Whether any row of another table refers to ``user`` (every foreign key to users.id)."""
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "users" and fk.column.name == "id":
                if db.session.scalar(select(exists().where(fk.parent == user.id))):
                    return True
    return False


def merge(a, b):
    """Make the two accounts ``a`` and ``b`` of one person one; returns the account that stays
    (the one holding records, else the verified one, else the older). The other row is deleted: its bearer tokens stop
    working, so the caller issues a new one.

    Raises Conflict (ACCOUNT_CONFLICT) for different unionids or two openids of one app,
    (IDENTITY_CONFLICT) for two different verified patients, NotMergeable when both hold records.
    """
    if a.unionid and b.unionid and a.unionid != b.unionid:
        raise _conflict("two unionids")
    for column in OPENID.values():
        if getattr(a, column) and getattr(b, column) and getattr(a, column) != getattr(b, column):
            raise _conflict("two %s" % column)
    if a.patient_id and b.patient_id and a.patient_id != b.patient_id:
        log.warning("account link refused: two verified patients")
        raise Conflict("两个账号实名认证的不是同一人，无法关联", code="IDENTITY_CONFLICT")
    a_holds, b_holds = holds_records(a), holds_records(b)
    if a_holds and b_holds:
        log.warning("account link refused: both accounts hold records (%s, %s)", a.id, b.id)
        raise NotMergeable()
    if (not a_holds, a.patient_id is None, a.created_at, a.id) > (
        not b_holds,
        b.patient_id is None,
        b.created_at,
        b.id,
    ):
        a, b = b, a
    keep, gone = a, b
    moved = {name: getattr(gone, name) for name in MOVED if getattr(keep, name) is None}
    db.session.delete(gone)
    db.session.flush()  # its unique openids are free before the row that stays takes them
    for name, value in moved.items():
        setattr(keep, name, value)
    db.session.flush()
    log.info("accounts merged: %s into %s (%s)", gone.id, keep.id, ",".join(sorted(moved)) or "-")
    return keep


def send_link_code(user, phone):
    """Send ``user`` (signed in with one app) a code to ``phone``, to link it with the account whose
    WeChat vouched for that phone (getPhoneNumber) in the other app. Sent whoever the phone belongs
    to: the answer never says whether an account has it. Limits as signing codes (one a minute,
    ten a day, per phone and per account; five wrong tries).

    Raises TooMany (429), Upstream when the gateway fails.
    """
    sms_codes.send(LINK_SUBJECT % user.id, phone, user.id, template="link_code", kind="link")


def confirm_link(user, phone, code):
    """The person proved they hold ``phone``: merge ``user`` with the one other account whose phone
    WeChat vouched for (``merge``); returns the account that stays.

    Raises Invalid (SMS_CODE_EXPIRED, SMS_CODE_WRONG, SMS_CODE_LOCKED), NotFound
    (NO_ACCOUNT_FOR_PHONE), Conflict (AMBIGUOUS_PHONE: more than one account has it; as ``merge``).
    """
    sent_to = sms_codes.consume(LINK_SUBJECT % user.id, user.id, code)
    if sent_to != phone:
        raise Invalid("验证码与手机号不符，请重新获取", code="SMS_CODE_WRONG", field="phone")
    others = User.query.filter(User.phone_index == blind_index(phone, "phone"), User.id != user.id).all()
    if not others:
        raise NotFound("没有找到用该手机号在小程序中登录的账号", code="NO_ACCOUNT_FOR_PHONE")
    if len(others) > 1:
        log.warning("account link refused: %d accounts have the phone", len(others))
        raise Conflict("该手机号对应多个账号，无法自动关联，请联系医院客服", code="AMBIGUOUS_PHONE")
    return merge(user, others[0])
