"""Configuration: defaults here, then ``instance/config.py``, then the environment
(API.md's names), then a test's dict."""

import json
import os

#: Environment names that map to another config key.
ALIASES = {"DATABASE_URL": "SQLALCHEMY_DATABASE_URI"}

#: Nantong's administrative division codes: the city, its districts, counties and county-level cities.
NANTONG = (
    "320600",
    "320602",
    "320611",
    "320612",
    "320613",
    "320614",
    "320623",
    "320671",
    "320681",
    "320682",
    "320684",
    "320685",
)


#: Development: the port ``make run``'s server listens on, written there by gunicorn.conf.py while
#: it serves with the sandbox, so commands in another shell reach that sandbox without ``PORT``.
DEV_PORT_FILE = "dev-server-port"


def _port(instance_path):
    """``PORT`` from the environment, else the development server's, else 8000."""
    if os.environ.get("PORT"):
        return os.environ["PORT"]
    try:
        with open(os.path.join(instance_path, DEV_PORT_FILE)) as f:
            port = f.read().strip()
    except OSError:
        return "8000"
    return port if port.isascii() and port.isdigit() else "8000"


def defaults(instance_path):
    port = _port(instance_path)
    return {
        "SECRET_KEY": None,
        "POSTPAY_DATA_KEY": None,
        "SQLALCHEMY_DATABASE_URI": "sqlite:///" + os.path.join(instance_path, "postpay.sqlite3"),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": None,
        #: Connections per process, besides the one pub/sub connection of its stream hub
        #: (visits/hub.py): open SSE streams hold none. Past it a caller waits up to 5 s.
        "REDIS_MAX_CONNECTIONS": 64,
        #: Environment only (``POSTPAY_SANDBOX=1``): a value in instance/config.py is ignored.
        "POSTPAY_SANDBOX": False,
        #: SHA-256 of generated development secrets and keys (postpay.devkeys): refused without the sandbox.
        "POSTPAY_DEV_FINGERPRINTS": [],
        "POSTPAY_SANDBOX_URL": "http://127.0.0.1:%s/sandbox" % port,
        "POSTPAY_TOKEN_TTL": 7200,
        #: R1: insured regions whose patients may sign (Nantong, 3206xx).
        "POSTPAY_INSURED_REGIONS": list(NANTONG),
        #: The commitment letter patients sign now; None: the newest in templates/commitment/.
        "POSTPAY_COMMITMENT_VERSION": None,
        "POSTPAY_MAX_RELATIVES": 10,
        #: Subscribe-message template ids by what they announce.
        "WECHAT_SUBSCRIBE_TEMPLATES": {
            "called": "TPL_VISIT_CALLED",
            "report_ready": "TPL_REPORT_READY",
            "visit_finished": "TPL_VISIT_FINISHED",
            "bill_due": "TPL_BILL_DUE",
            "bill_overdue": "TPL_BILL_OVERDUE",
            "refund_result": "TPL_REFUND_RESULT",
            "credit_status": "TPL_CREDIT_STATUS",
            "receipt_ready": "TPL_RECEIPT_READY",
        },
        #: Longest an SSE stream stays open before the client reconnects with Last-Event-ID.
        "POSTPAY_SSE_MAX_SECONDS": 300,
        #: Seconds between an idle stream's keep-alives; each also re-checks the token and
        #: the binding (a revoked stream ends) and refreshes the stream's slot.
        "POSTPAY_SSE_HEARTBEAT_SECONDS": 15,
        #: Open streams at once per account, and per account and visit (more get 429
        #: TOO_MANY_STREAMS): one account must not hold every worker thread.
        "POSTPAY_SSE_MAX_PER_ACCOUNT": 3,
        "POSTPAY_SSE_MAX_PER_VISIT": 3,
        #: Without REDIS_URL (development), work the job queue on a thread of the web process.
        "POSTPAY_INPROCESS_WORKER": True,
        "POSTPAY_SMS_PROVIDER": "sandbox",
        "POSTPAY_SMS_SIGN_NAME": "先诊疗后付费",
        "TENCENT_SMS_SECRET_ID": "",
        "TENCENT_SMS_SECRET_KEY": "",
        "TENCENT_SMS_SDK_APP_ID": "",
        #: Template name -> Tencent Cloud template id, e.g. {"verify_code": "1234567"}.
        "TENCENT_SMS_TEMPLATES": {},
        "MAX_CONTENT_LENGTH": 512 * 1024,
        "LOG_LEVEL": "INFO",
        "UPSTREAM_TIMEOUT": 5,
        "WECHAT_APPID": "",
        "WECHAT_SECRET": "",
        #: Template-message (模板消息) ids of the official account by what they announce: its users get
        #: these instead of the mini-program's subscribe messages (a kind without one: no message).
        "WECHAT_MP_TEMPLATES": {
            "called": "OA_TPL_VISIT_CALLED",
            "report_ready": "OA_TPL_REPORT_READY",
            "visit_finished": "OA_TPL_VISIT_FINISHED",
            "bill_due": "OA_TPL_BILL_DUE",
            "bill_overdue": "OA_TPL_BILL_OVERDUE",
            "refund_result": "OA_TPL_REFUND_RESULT",
            "credit_status": "OA_TPL_CREDIT_STATUS",
            "receipt_ready": "OA_TPL_RECEIPT_READY",
        },
        #: Where a template message leads (https, on our host), e.g. https://postpay.example.cn/mp/; empty: no link.
        "WECHAT_MP_TEMPLATE_URL": "",
        "WECHAT_API_BASE": "https://api.weixin.qq.com",
        #: The official account (公众号, on the 公众平台; not the mini-program): web authorization,
        #: JSAPI pay, template messages.
        "WECHAT_MP_APPID": "",
        "WECHAT_MP_SECRET": "",
        #: Web authorization's scope: snsapi_base (silent, openid only) or snsapi_userinfo (a consent
        #: page; WeChat adds the unionid when the apps share an open-platform account).
        "WECHAT_MP_OAUTH_SCOPE": "snsapi_base",
        #: Where WeChat sends the person back (a 网页授权域名 registered with the official account); empty:
        #: /oauth/wechat/callback on the host the request came to (development).
        "WECHAT_MP_REDIRECT_URI": "",
        #: WeChat's web-authorization page (the sandbox's stand-in when the sandbox is on).
        "WECHAT_OAUTH_BASE": "https://open.weixin.qq.com/connect/",
        "MEDINS_API_BASE": "https://fuwu.nhsa.gov.cn/ebus/mobile",
        "MEDINS_APP_ID": "",
        "MEDINS_APP_SECRET": "",
        "MEDINS_PRIVATE_KEY": "",
        "MEDINS_PLATFORM_PUBLIC_KEY": "",
        "MEDINS_ORG_CODE": "",
        #: Tencent's med-ins user query (userQuery): the partner id and HMAC secret Tencent issues.
        "MEDINS_USERQUERY_BASE": "https://mip-receiver.tengmed.com",
        "MEDINS_USERQUERY_PARTNER_ID": "",
        "MEDINS_USERQUERY_SECRET": "",
        #: How long a payAuthNo is kept when userQuery states no validity (seconds).
        "MEDINS_PAY_AUTH_DEFAULT_TTL": 1800,
        "SMS_API_BASE": "",
        "SANDBOX_WECHAT_APPID": "",
        "SANDBOX_WECHAT_SECRET": "",
        #: The official account the sandbox knows (web authorization, template messages).
        "SANDBOX_WECHAT_MP_APPID": "",
        "SANDBOX_WECHAT_MP_SECRET": "",
        #: Official accounts bound to sub-merchants (sub_appid), {sub_mchid: [appid, ...]}; more with
        #: POST /sandbox/wechatpay/sub-merchants.
        "SANDBOX_WECHATPAY_SUB_APPIDS": {},
        "SANDBOX_MEDINS_APP_ID": "",
        "SANDBOX_MEDINS_APP_SECRET": "",
        "SANDBOX_MEDINS_PLATFORM_PRIVATE_KEY": "",
        "SANDBOX_MEDINS_APP_PUBLIC_KEY": "",
        "SANDBOX_MEDINS_USERQUERY_PARTNER_ID": "",
        "SANDBOX_MEDINS_USERQUERY_SECRET": "",
        "SANDBOX_WECHATPAY_PLATFORM_PRIVATE_KEY_PATH": "",
        "SANDBOX_WECHATPAY_MERCHANT_PUBLIC_KEY_PATH": "",
        "SANDBOX_WECHATPAY_PUBLIC_KEY_ID": "",
        "SANDBOX_WECHATPAY_APIV3_KEY": "",
        "SANDBOX_WECHATPAY_MERCHANT_SERIAL": "",
        #: The merchant that certificate serial belongs to: the service provider (our WECHATPAY_MCHID).
        "SANDBOX_WECHATPAY_MCHID": "",
        #: The provider's sub-merchants (特约商户) the sandbox knows; more with POST /sandbox/wechatpay/sub-merchants.
        "SANDBOX_WECHATPAY_SUB_MCHIDS": [],
        "WECHATPAY_API_BASE": "https://api.mch.weixin.qq.com",
        #: Minutes a WeChat order stays payable (time_expire).
        "POSTPAY_ORDER_MINUTES": 30,
        #: Local time (Asia/Shanghai) when the day's open bills are finalised.
        "POSTPAY_DAY_END": "23:59",
        #: R17: reminders when a bill becomes overdue (day 0) and on these days of arrears.
        "POSTPAY_REMINDER_DAYS": [0, 7, 20, 29],
        #: R18: days overdue after which post-pay is suspended at every hospital.
        "POSTPAY_ARREARS_DAYS": 30,
        #: The key agreed with the city's credit platform: identity numbers go out as HMAC-SHA256 under it.
        "POSTPAY_CREDIT_EXPORT_KEY": "",
        #: No SMS in these local hours (Asia/Shanghai): from, to.
        "POSTPAY_QUIET_HOURS": "21:00-08:00",
        #: Local time from which the day-before appointment reminders go out (R15).
        "POSTPAY_BOOKING_REMINDER_AT": "10:00",
        #: The HIS's appointment feed shows changes this many seconds old, so none commits behind a cursor.
        "POSTPAY_FEED_LAG_SECONDS": 5,
        "WECHATPAY_MCHID": "",
        "WECHATPAY_APIV3_KEY": "",
        "WECHATPAY_PRIVATE_KEY_PATH": "",
        "WECHATPAY_CERT_SERIAL": "",
        "WECHATPAY_PUBLIC_KEY_PATH": "",
        "WECHATPAY_PUBLIC_KEY_ID": "",
        "WECHATPAY_NOTIFY_URL": "http://127.0.0.1:%s/wechat/pay/notify" % port,
        #: WeChat Pay API v2 key (MD5 / HMAC-SHA256 signs): micropay at the window (刷卡/刷脸).
        "WECHATPAY_APIV2_KEY": "",
        "SANDBOX_WECHATPAY_APIV2_KEY": "",
        #: The API client certificate (apiclient_cert.pem) of the merchant key at WECHATPAY_PRIVATE_KEY_PATH:
        #: WeChat Pay's /secapi/ calls (the micropay reverse) are made with it.
        "WECHATPAY_APICLIENT_CERT_PATH": "",
        #: Micropay: seconds between queries of an unresolved payment, and how long it may stay
        #: unresolved (USERPAYING) before it is reversed.
        "POSTPAY_MICROPAY_POLL_SECONDS": 1.0,
        "POSTPAY_MICROPAY_RESOLVE_SECONDS": 30.0,
        #: Staff console: CSRF is checked on the console's forms only (the JSON APIs carry tokens).
        "WTF_CSRF_CHECK_DEFAULT": False,
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        #: The console's session cookie is sent over HTTPS only whenever POSTPAY_SANDBOX is off,
        #: whatever this says; 1 adds the flag with the sandbox on too (console/sessions.py).
        "SESSION_COOKIE_SECURE": False,
        #: Console sessions live in Redis: they end after this long without a request (s)...
        "POSTPAY_CONSOLE_IDLE_SECONDS": 1800,
        #: ... and this long after signing in, however busy (s).
        "POSTPAY_CONSOLE_MAX_SECONDS": 12 * 3600,
        #: Failed console logins before an account is locked, and for how long (s).
        "POSTPAY_STAFF_MAX_FAILURES": 5,
        "POSTPAY_STAFF_LOCK_SECONDS": 900,
        #: Failed console logins from one address (any usernames) before it is refused, and for how long (s).
        "POSTPAY_STAFF_IP_MAX_FAILURES": 20,
        "POSTPAY_STAFF_IP_WINDOW_SECONDS": 900,
        #: Medical-insurance orders' callback_url; empty: beside WECHATPAY_NOTIFY_URL (.../med-ins-notify).
        "WECHATPAY_MEDINS_NOTIFY_URL": "",
        #: GET /metrics: the bearer token Prometheus sends; empty: answered on the loopback address only.
        "POSTPAY_METRICS_TOKEN": "",
        #: How many reverse proxies (nginx, a load balancer) stand in front of the app and append to
        #: X-Forwarded-For / X-Forwarded-Proto: the client's address is then read from there (per-IP
        #: limits, audit, micropay's spbill ip). 0: the app is reached directly, the headers are ignored.
        "POSTPAY_PROXY_HOPS": 0,
    }


def _coerce(value, like):
    if isinstance(like, list):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(like, dict):
        return json.loads(value)
    if isinstance(like, bool):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(like, int):
        return int(value)
    return value


def from_environment(config, environ=os.environ):
    """Override known keys from the environment, typed like their defaults."""
    for name, value in environ.items():
        key = ALIASES.get(name, name)
        if key in config:
            config[key] = _coerce(value, config[key])


def normalize_database_url(url):
    """PostgreSQL URLs use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
