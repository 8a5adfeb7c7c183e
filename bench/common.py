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
