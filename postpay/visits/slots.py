"""Slots for open live streams (SSE), counted in Redis so every worker sees the same count.

Each account has a sorted set of its open streams, and one per (account, visit): members
are stream ids, scores the moment the entry lapses. A stream claims its slot when it opens
and claims it again at each heartbeat, which pushes the lapse time on; it releases the slot
when it ends. A worker that dies without releasing leaves an entry nobody refreshes: the
next claim drops it once it has lapsed, so a crash frees its slots within a few heartbeats.
One Lua script drops, counts and adds, so concurrent opens cannot get past the limit.
"""

import secrets
import time

from postpay.errors import TooManyRequests
from postpay.extensions import redis

#: A slot lapses this many heartbeats (plus a second) after its last claim.
LAPSE_HEARTBEATS = 3

# KEYS: the account's set, the (account, visit) set.
# ARGV: now, lapses_at, stream id, account limit, visit limit, key ttl (whole seconds).
# A stream already holding its slot always gets it again (a heartbeat); a new one only
# while both sets, lapsed entries dropped, hold fewer than their limits.
_CLAIM = """
local now, lapses_at, id = tonumber(ARGV[1]), ARGV[2], ARGV[3]
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if not redis.call('ZSCORE', key, id) and redis.call('ZCARD', key) >= tonumber(ARGV[3 + i]) then
    return 0
  end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, lapses_at, id)
  redis.call('EXPIRE', key, ARGV[6])
end
return 1
"""


def _keys(user_id, visit_id):
    # One hash tag: both keys live in the same Redis Cluster slot, as a script needs.
    return ["sse:{%s}" % user_id, "sse:{%s}:visit:%s" % (user_id, visit_id)]


class Slot:
    """One open stream's place in the counts of its account and of (account, visit)."""

    def __init__(self, user_id, visit_id, heartbeat, per_account, per_visit):
        self.redis = redis._get_current_object()  # claimed and released after the view's context is gone
        self.script = self.redis.register_script(_CLAIM)
        self.user_id = user_id
        self.keys = _keys(user_id, visit_id)
        self.id = secrets.token_hex(8)
        self.lapse = LAPSE_HEARTBEATS * float(heartbeat) + 1
        self.limits = (int(per_account), int(per_visit))

    def claim(self, client=None):
        """Take the slot, or keep it (at a heartbeat). False when the account is at its limit.
        With ``client`` a pipeline, the claim is queued there (the hub's batched heartbeat)."""
        now = time.time()
        ttl = int(self.lapse) + 1
        args = [now, now + self.lapse, self.id, *self.limits, ttl]
        result = self.script(keys=self.keys, args=args, client=client)  # EVALSHA once loaded
        return result if client is not None else bool(result)

    def release(self):
        """Give the slot back (the stream ended or its client went away)."""
        for key in self.keys:
            self.redis.zrem(key, self.id)


def open_slot(user_id, visit_id, config):
    """A claimed slot for a new stream.

    Raises TooManyRequests (TOO_MANY_STREAMS) when the account already has
    ``POSTPAY_SSE_MAX_PER_ACCOUNT`` streams open, or ``POSTPAY_SSE_MAX_PER_VISIT`` on this visit.
    """
    slot = Slot(
        user_id,
        visit_id,
        config["POSTPAY_SSE_HEARTBEAT_SECONDS"],
        config["POSTPAY_SSE_MAX_PER_ACCOUNT"],
        config["POSTPAY_SSE_MAX_PER_VISIT"],
    )
    if not slot.claim():
        raise TooManyRequests("同时打开的实时页面过多，请关闭其他页面后重试", code="TOO_MANY_STREAMS")
    return slot
