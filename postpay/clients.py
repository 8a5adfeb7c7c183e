"""The app's clients for the outside world, built from config. With
``POSTPAY_SANDBOX=1`` every base URL points at the sandbox, reached over HTTP."""

from flask import current_app

from postpay.extensions import redis
from wechat import miniprogram, mp_templates, officialaccount, pay, sms, tc3
from wechat.medins_pay import MedinsPay
from wechat.medins_userquery import UserQuery
from wechat.micropay import Micropay


def _base(real, sandbox_path):
    cfg = current_app.config
    return cfg["POSTPAY_SANDBOX_URL"].rstrip("/") + sandbox_path if cfg["POSTPAY_SANDBOX"] else real


def _cached(name, build):
    cache = current_app.extensions.setdefault("postpay_clients", {})
    if name not in cache:
        cache[name] = build()
    return cache[name]


def wechat():
    cfg = current_app.config
    return _cached(
        "wechat",
        lambda: miniprogram.MiniProgram(
            cfg["WECHAT_APPID"],
            cfg["WECHAT_SECRET"],
            redis._get_current_object(),
            api_base=_base(cfg["WECHAT_API_BASE"], "/wechat/api"),
            timeout=cfg["UPSTREAM_TIMEOUT"],
        ),
    )


def official_account():
    """The official account (公众号): web authorization; the sandbox's pages and API when it is on."""
    cfg = current_app.config
    return _cached(
        "official_account",
        lambda: officialaccount.OfficialAccount(
            cfg["WECHAT_MP_APPID"],
            cfg["WECHAT_MP_SECRET"],
            api_base=_base(cfg["WECHAT_API_BASE"], "/wechat/api"),
            oauth_base=_base(cfg["WECHAT_OAUTH_BASE"], "/wechat/connect/"),
            timeout=cfg["UPSTREAM_TIMEOUT"],
        ),
    )


def mp_template_messages():
    """The official account's template messages (its own appid, secret and access token)."""
    cfg = current_app.config
    return _cached(
        "mp_templates",
        lambda: mp_templates.TemplateMessages(
            cfg["WECHAT_MP_APPID"],
            cfg["WECHAT_MP_SECRET"],
            redis._get_current_object(),
            api_base=_base(cfg["WECHAT_API_BASE"], "/wechat/api"),
            timeout=cfg["UPSTREAM_TIMEOUT"],
        ),
    )


def medical_insurance():
    cfg = current_app.config
    return _cached(
        "medins",
        lambda: MedinsPay(
            _base(cfg["MEDINS_API_BASE"], "/medins/api"),
            cfg["MEDINS_APP_ID"],
            cfg["MEDINS_APP_SECRET"],
            cfg["MEDINS_PRIVATE_KEY"],
            cfg["MEDINS_PLATFORM_PUBLIC_KEY"],
            cfg["MEDINS_ORG_CODE"],
            timeout=cfg["UPSTREAM_TIMEOUT"],
        ),
    )


def medins_user_query():
    """Tencent's userQuery: the 医保授权 mini-program's authCode -> payAuthNo and the person."""
    cfg = current_app.config
    return _cached(
        "medins_userquery",
        lambda: UserQuery(
            _base(cfg["MEDINS_USERQUERY_BASE"], "/medins"),
            cfg["MEDINS_USERQUERY_PARTNER_ID"],
            cfg["MEDINS_USERQUERY_SECRET"],
            default_ttl=cfg["MEDINS_PAY_AUTH_DEFAULT_TTL"],
            timeout=cfg["UPSTREAM_TIMEOUT"],
        ),
    )


def sms_gateway():
    """The sandbox outbox, or Tencent Cloud SMS when ``POSTPAY_SMS_PROVIDER=tencent`` (and no sandbox)."""
    cfg = current_app.config
    return _cached("sms", lambda: _build_sms(cfg))


def _build_sms(cfg):
    if cfg["POSTPAY_SMS_PROVIDER"] == "tencent" and not cfg["POSTPAY_SANDBOX"]:
        client = tc3.TencentSmsClient(
            cfg["TENCENT_SMS_SECRET_ID"],
            cfg["TENCENT_SMS_SECRET_KEY"],
            cfg["TENCENT_SMS_SDK_APP_ID"],
            cfg["POSTPAY_SMS_SIGN_NAME"],
            template_id=None,
            timeout=cfg["UPSTREAM_TIMEOUT"],
        )
        return sms.TencentSms(client, cfg["TENCENT_SMS_TEMPLATES"])
    base = _base(cfg["SMS_API_BASE"], "")
    return sms.SandboxSms(base, cfg["POSTPAY_SMS_SIGN_NAME"], timeout=cfg["UPSTREAM_TIMEOUT"])


def wechat_pay():
    cfg = current_app.config

    def build():
        keys = current_app.extensions["wechatpay_keys"]  # loaded and checked at startup (postpay.posture)
        private, public = keys["private"], keys["public"]
        return pay.WeChatPay(
            cfg["WECHATPAY_MCHID"],
            cfg["WECHAT_APPID"],
            cfg["WECHATPAY_CERT_SERIAL"],
            private,
            public,
            cfg["WECHATPAY_PUBLIC_KEY_ID"],
            cfg["WECHATPAY_APIV3_KEY"],
            cfg["WECHATPAY_NOTIFY_URL"],
            gateway=_base(cfg["WECHATPAY_API_BASE"], "/wechatpay"),
            timeout=cfg["UPSTREAM_TIMEOUT"],
        )

    return _cached("wechatpay", build)


def micropay(mchid):
    """WeChat Pay API v2 micropay for a hospital (刷卡 / 刷脸 at the window), as the service provider:
    ``mch_id`` = ``WECHATPAY_MCHID``, ``sub_mch_id`` = the hospital's mchid (none when the hospital
    is the provider itself), signed with the provider's one v2 key."""
    cfg = current_app.config
    sp = cfg["WECHATPAY_MCHID"]
    cert = cfg.get("WECHATPAY_APICLIENT_CERT_PATH")
    return _cached(
        "micropay:%s" % mchid,
        lambda: Micropay(
            cfg["WECHAT_APPID"],
            sp,
            cfg["WECHATPAY_APIV2_KEY"],
            gateway=_base(cfg["WECHATPAY_API_BASE"], "/wechatpay/v2"),
            sub_mchid=None if mchid == sp else mchid,
            cert=(cert, cfg["WECHATPAY_PRIVATE_KEY_PATH"]) if cert else None,
            timeout=cfg["UPSTREAM_TIMEOUT"],
            poll_seconds=cfg["POSTPAY_MICROPAY_POLL_SECONDS"],
            resolve_seconds=cfg["POSTPAY_MICROPAY_RESOLVE_SECONDS"],
        ),
    )
