"""Extensions, created unbound at import and bound in ``create_app``."""

import datetime as dt

import fakeredis
import redis as redis_lib
from flask import current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData
from sqlalchemy.types import TypeDecorator
from werkzeug.local import LocalProxy

# Stable constraint names, so migrations read the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))


class UTCDateTime(TypeDecorator):
    """A moment in time, stored in UTC and read back timezone-aware on every database
    (SQLite keeps no offset: without this it would hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: give a timezone")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value


migrate = Migrate()


def init_redis(app):
    """Bind a Redis client: the real server at ``REDIS_URL``, else an in-process fakeredis.

    The fake server is one per app, shared by all its threads (the dev server and
    the sandbox calling the app over HTTP), so it behaves like one real server.
    """
    url = app.config.get("REDIS_URL")
    if url:
        # A blocking pool: past REDIS_MAX_CONNECTIONS a caller waits (up to 5 s) for a
        # connection instead of failing, so a burst of greenlets (gevent) cannot open thousands.
        pool = redis_lib.BlockingConnectionPool.from_url(
            url,
            socket_timeout=2,
            socket_connect_timeout=2,
            health_check_interval=30,
            max_connections=app.config.get("REDIS_MAX_CONNECTIONS") or 64,
            timeout=5,
        )
        client = redis_lib.Redis(connection_pool=pool)
    else:
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    app.extensions["redis"] = client


#: The app's Redis client (bytes in, bytes out).
redis = LocalProxy(lambda: current_app.extensions["redis"])
