"""What the benchmarks share: a scratch instance on the real servers, and an empty schema."""

import os
import sys
import tempfile

from sqlalchemy import MetaData

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from postpay.devkeys import write_instance_config  # noqa: E402
from postpay.extensions import db  # noqa: E402


def scratch_instance(**env):
    """Fresh dev keys in a temporary instance folder, for this process and the servers it starts."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit("set DATABASE_URL (PostgreSQL) and REDIS_URL (a scratch db)")
    instance = tempfile.mkdtemp(prefix="bench-instance-")
    write_instance_config(instance)
    os.environ.update({"POSTPAY_INSTANCE_PATH": instance, "LOG_LEVEL": "WARNING", "POSTPAY_SANDBOX": "1", **env})


def empty_schema(app):
    """Drop every table, migrate afresh and empty the Redis db."""
    from flask_migrate import upgrade

    with app.app_context():
        old = MetaData()
        old.reflect(db.engine)
        old.drop_all(db.engine)
        upgrade()
        app.extensions["redis"].flushdb()


def sub_merchants(app, mchids):
    """Onboard the bench's hospitals as our sub-merchants at (the sandbox's) WeChat Pay."""
    client = app.test_client()
    for mchid in mchids:
        assert client.post("/sandbox/wechatpay/sub-merchants", json={"sub_mchid": mchid}).status_code == 201


def partner_transaction(app, sub_mchid, out_trade_no, transaction_id, total):
    """A paid partner order's resource, as WeChat notifies it to the service provider."""
    import datetime as dt

    return {
        "sp_appid": app.config["WECHAT_APPID"],
        "sp_mchid": app.config["WECHATPAY_MCHID"],
        "sub_mchid": sub_mchid,
        "out_trade_no": out_trade_no,
        "transaction_id": transaction_id,
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "success_time": dt.datetime.now().astimezone().isoformat(),
        "payer": {"sp_openid": "o-bench"},
        "amount": {"total": total, "payer_total": total, "currency": "CNY"},
    }


def wechat_openid(app, openid):
    """``openid``, given out by (the sandbox's) WeChat to the mini-program as a wx.login and
    code2session would: WeChat Pay takes an openid only under the appid that gave it out."""
    client = app.test_client()
    code = client.post("/sandbox/wechat/login-codes", json={"openid": openid}).get_json()["code"]
    query = {
        "appid": app.config["SANDBOX_WECHAT_APPID"],
        "secret": app.config["SANDBOX_WECHAT_SECRET"],
        "js_code": code,
        "grant_type": "authorization_code",
    }
    assert client.get("/sandbox/wechat/api/sns/jscode2session", query_string=query).get_json()["openid"] == openid
    return openid
