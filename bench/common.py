"""What the benchmarks share: a scratch instance on the real servers, and an empty schema."""

import math
import os
import socket
import subprocess
import sys
import tempfile

from sqlalchemy import MetaData

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn(env, stderr=subprocess.DEVNULL, **settings):
    """The app under gunicorn (``gunicorn.conf.py``, 2 workers unless ``settings`` say) on a free
    port, with the environment ``env`` and ``settings``; (process, url)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
        env=dict(env, PORT=str(port), **{"GUNICORN_WORKERS": "2", **settings}),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    return proc, "http://127.0.0.1:%d" % port


def workers_rss(master):
    """The resident memory of a gunicorn's workers, in bytes."""
    import psutil

    return sum(child.memory_info().rss for child in psutil.Process(master).children())


def p99(values):
    """The 99th percentile (nearest rank)."""
    values = sorted(values)
    return values[min(len(values) - 1, math.ceil(len(values) * 0.99) - 1)]


def redis_clients(app):
    """Connections to this probe's Redis db (the server may be shared with other work)."""
    redis = app.extensions["redis"]
    db_number = redis.connection_pool.connection_kwargs.get("db", 0)
    return sum(1 for c in redis.client_list() if int(c.get("db", -1)) == int(db_number))
