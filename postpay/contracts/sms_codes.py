"""SMS verification codes for signing (R7).

- Six random digits, kept in Redis only as a keyed digest, for 5 minutes, used once.
- Five wrong tries and the code is gone.
- At most one send a minute and ten a day, per phone and per patient.
- The code is bound to who asked for it (an account or a kiosk session) and to the
  phone, which the contract then keeps for reminders.
"""

import datetime as dt
import logging
import secrets

import requests

from postpay import clients
from postpay.clock import local_date
from postpay.errors import DomainError, Invalid, Upstream
from postpay.extensions import redis
from postpay.security import blind_index, decrypt, encrypt, mask_phone
from wechat.sms import SmsError

log = logging.getLogger(__name__)

TTL = 300
MAX_TRIES = 5
DAILY_LIMIT = 10
CODE_KEY = "sms:code:%s"


class TooMany(DomainError):
    status, code, message = 429, "SMS_RATE_LIMITED", "验证码发送过于频繁，请稍后再试"


def _limit(kind, value, now):
    """Count one send for ``kind``/``value``; raise TooMany past 1 a minute or 10 a day."""
    if not redis.set("sms:min:%s:%s" % (kind, value), 1, nx=True, ex=60):
        raise TooMany("验证码发送过于频繁，请1分钟后再试")
    day_key = "sms:day:%s:%s:%s" % (kind, value, local_date(now).isoformat())
    count = redis.incr(day_key)
    redis.expire(day_key, 2 * 86400)
    if count > DAILY_LIMIT:
        raise TooMany("今日验证码发送次数已达上限", code="SMS_DAILY_LIMIT")


def send(patient_id, phone, actor, now=None, template="verify_code", kind="patient"):
    """Send a fresh code for signing for ``patient_id`` to ``phone``, asked by ``actor``. The same
    codes serve other confirmations of a phone: ``template`` says what for, ``patient_id`` is then
    the subject of ``kind`` (e.g. an account linking its apps), limited as a patient is.

    Raises TooMany (429) past the rate limits, Upstream when the gateway fails.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    phone_index = blind_index(phone, "phone")
    _limit("phone", phone_index, now)
    _limit(kind, patient_id, now)
    code = "%06d" % secrets.randbelow(1_000_000)
    key = CODE_KEY % patient_id
    redis.delete(key)
    redis.hset(key, mapping={"digest": _digest(patient_id, code), "phone": encrypt(phone, "phone"), "actor": actor})
    redis.expire(key, TTL)
    try:
        clients.sms_gateway().send(phone, template, [code, TTL // 60])
    except (SmsError, requests.RequestException) as e:
        redis.delete(key)
        log.error("sms code to %s failed: %s", mask_phone(phone), e)
        raise Upstream("短信发送失败，请稍后再试") from None
    log.info("sms code sent to %s for patient %s", mask_phone(phone), patient_id)


def _digest(patient_id, code):
    return blind_index("%s:%s" % (patient_id, code), "sms_code")


def consume(patient_id, actor, code):
    """Check ``code``; on success forget it and return the phone it was sent to.

    Raises Invalid: SMS_CODE_EXPIRED (none, expired or used), SMS_CODE_WRONG,
    SMS_CODE_LOCKED (the fifth wrong try; the code is gone).
    """
    key = CODE_KEY % patient_id
    stored = {k.decode(): v.decode() for k, v in redis.hgetall(key).items()}
    if not stored or stored.get("actor") != actor:
        raise Invalid("验证码已失效，请重新获取", code="SMS_CODE_EXPIRED")
    if not secrets.compare_digest(stored["digest"], _digest(patient_id, str(code))):
        tries = redis.hincrby(key, "tries", 1)
        redis.expire(key, TTL, nx=True)  # never leave a key without TTL if it expired meanwhile
        if tries >= MAX_TRIES:
            redis.delete(key)
            raise Invalid("验证码错误次数过多，请重新获取", code="SMS_CODE_LOCKED")
        raise Invalid("验证码不正确", code="SMS_CODE_WRONG")
    if not redis.delete(key):  # a concurrent request used it first
        raise Invalid("验证码已失效，请重新获取", code="SMS_CODE_EXPIRED")
    return decrypt(stored["phone"], "phone")
