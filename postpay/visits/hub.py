"""One Redis subscriber per process for all its open live streams (R16), and their batched heartbeat.

10,000 streams must not mean 10,000 Redis connections (Redis takes 10,000 clients at most).
Each worker process has one ``Hub``:

- a listener (a thread; a greenlet under gevent) on one pub/sub connection, subscribed to a
  visit's channel while at least one stream of the process watches that visit, unsubscribed
  when the last one ends, handing each message to the queues of the streams watching it;
- a keeper that runs each stream's heartbeat: every ``POSTPAY_SSE_HEARTBEAT_SECONDS`` per
  stream, one Redis pipeline for all the streams due (their slot claims, their accounts'
  access stamps, whether their bearer tokens still exist). A stream whose stamp moved or
  whose token is gone is told to run the route's full check (``check``); one whose slot was
  taken is told it is ``lost``; the others cost nothing more. The streams due go in
  pipelines of ``BEAT_BATCH``, the keeper yielding between them, so a request that arrives
  on the same event loop (gevent) waits for one batch at most, not for the whole round
  (bench P4': a round of 5,000 streams is about 333 streams a second per worker). A stream that stopped reading
  (its client stalled, its consumer hung) is not claimed for, so its slot lapses as before.

If the pub/sub connection breaks (redis-py reconnects and subscribes again by itself), messages
may have been missed meanwhile: every stream is told to end (``reset``), and its client
reconnects with Last-Event-ID, which replays from the database.
"""

import logging
import os
import queue
import threading
import time

from postpay import stamps

log = logging.getLogger(__name__)

#: Messages a stream may have waiting; one more ends it (the client reconnects and replays).
QUEUE_SIZE = 256
#: Streams per heartbeat pipeline (a few milliseconds of the worker's time each).
BEAT_BATCH = 64


class Hub:
    def __init__(self, app):
        self.redis = app.extensions["redis"]
        self.heartbeat = float(app.config["POSTPAY_SSE_HEARTBEAT_SECONDS"])
        self.lock = threading.RLock()  # a reconnect inside subscribe() tells every stream
        self.channels = {}  # channel -> set of streams
        self.ready = {}  # channel -> Event, set once Redis confirmed the subscription
        self.pending = {}  # channel -> subscribe confirmations not yet read
        self.streams = set()  # streams the keeper beats for
        self.pid = None
        self.pubsub = None

    def _start(self):
        """The connection and the two loops, once per process (a forked worker starts its own)."""
        if self.pid == os.getpid():
            return
        self.pid = os.getpid()
        self.channels, self.ready, self.pending, self.streams = {}, {}, {}, set()
        self.pubsub = self.redis.pubsub()
        self.resubscribe = self.pubsub.on_connect
        self.pubsub.on_connect = self._reconnected  # redis-py calls it on reconnects only
        # A channel of its own, so the connection is never idle of subscriptions (get_message
        # then reads instead of waiting for a first subscribe).
        self.pubsub.subscribe("hub:%d:%s" % (self.pid, id(self)))
        for loop in (self._listen, self._keep):
            threading.Thread(target=loop, name="stream-hub", daemon=True).start()

    # Subscriptions ------------------------------------------------------------------------

    def join(self, stream, wait=5.0):
        """Deliver ``stream.channel``'s messages to ``stream``; returns once Redis confirmed the
        subscription, so an event published after this returns reaches the stream."""
        with self.lock:
            self._start()
            watchers = self.channels.setdefault(stream.channel, set())
            if not watchers:
                self.ready[stream.channel] = threading.Event()
                self.pending[stream.channel] = self.pending.get(stream.channel, 0) + 1
                self.pubsub.subscribe(stream.channel)
            watchers.add(stream)
            ready = self.ready[stream.channel]
        if not ready.wait(wait):
            log.warning("subscription to %s not confirmed in %.0f s", stream.channel, wait)

    def leave(self, stream):
        """Stop delivering to ``stream`` (and its heartbeat); the last one out unsubscribes."""
        with self.lock:
            self.streams.discard(stream)
            watchers = self.channels.get(stream.channel)
            if watchers is None or stream not in watchers:
                return
            watchers.discard(stream)
            if not watchers:
                del self.channels[stream.channel]
                self.ready.pop(stream.channel, None)
                try:
                    self.pubsub.unsubscribe(stream.channel)
                except Exception:  # Redis down: not subscribed again on reconnect either
                    for name in (stream.channel, stream.channel.encode()):
                        self.pubsub.channels.pop(name, None)

    def _reconnected(self, connection):
        self.resubscribe(connection)
        log.warning("stream hub reconnected to Redis: streams end and resume")
        self._tell_all(("reset",))

    def subscribed(self):
        """The visit channels this process is subscribed to (for tests and metrics)."""
        with self.lock:
            return set(self.channels)

    def _listen(self):
        pause = 0  # while Redis is down: logged once, tried again less and less often (up to 30 s)
        while True:
            try:
                message = self.pubsub.get_message(timeout=1.0)
            except Exception:
                if not pause:
                    log.exception("stream hub lost its pub/sub connection: streams end and resume")
                self._tell_all(("reset",))
                pause = min(30.0, max(0.5, pause * 2))
                time.sleep(pause)
                continue
            pause = 0
            if message is None:
                continue
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else channel
            with self.lock:
                if message["type"] == "subscribe" and channel in self.pending:
                    self.pending[channel] -= 1
                    if self.pending[channel] <= 0:
                        del self.pending[channel]
                        if channel in self.ready:
                            self.ready[channel].set()
                    continue
                watchers = list(self.channels.get(channel, ())) if message["type"] == "message" else []
            for stream in watchers:
                stream.put(("event", message["data"]))

    def _tell_all(self, item):
        with self.lock:
            everyone = {s for watchers in self.channels.values() for s in watchers}
        for stream in everyone:
            stream.put(item)

    # Heartbeats ---------------------------------------------------------------------------

    def beat_for(self, stream):
        """Start ``stream``'s heartbeats (it is being read)."""
        stream.due = time.monotonic() + self.heartbeat
        with self.lock:
            self._start()
            self.streams.add(stream)

    def _keep(self):
        tick = min(1.0, self.heartbeat / 4)
        while True:
            time.sleep(tick)
            try:
                self.beat()
            except Exception:
                log.exception("stream heartbeats failed")

    def beat(self, now=None):
        """One round: the heartbeat of every stream due, in pipelines of ``BEAT_BATCH`` streams."""
        now = time.monotonic() if now is None else now
        with self.lock:
            due = [s for s in self.streams if s.due <= now]
        if not due:
            return
        for stream in due:
            stream.due = now + self.heartbeat
        # A stream that has not come round its loop for two heartbeats is stuck: no claim.
        alive = [s for s in due if now - s.seen < 2 * self.heartbeat]
        if not alive:
            return
        for k in range(0, len(alive), BEAT_BATCH):
            if k:
                time.sleep(0)  # let the worker's other requests run (a greenlet switch under gevent)
            self._beat_batch(alive[k : k + BEAT_BATCH])

    def _beat_batch(self, alive):
        accounts = sorted({s.slot.user_id for s in alive})
        tokens = sorted({s.token_key for s in alive})
        pipe = self.redis.pipeline(transaction=False)
        for stream in alive:
            stream.slot.claim(client=pipe)
        for user_id in accounts:
            pipe.get(stamps.key(user_id))
        for token in tokens:
            pipe.exists(token)
        try:
            results = pipe.execute(raise_on_error=False)
        except Exception:
            log.exception("stream heartbeats: Redis did not answer; %d streams end and resume", len(alive))
            for stream in alive:
                stream.put(("lost",))
            return
        claims = results[: len(alive)]
        stamp_of = dict(zip(accounts, results[len(alive) : len(alive) + len(accounts)], strict=True))
        live_tokens = dict(zip(tokens, results[len(alive) + len(accounts) :], strict=True))
        for stream, claimed in zip(alive, claims, strict=True):
            if isinstance(claimed, Exception) or not claimed:
                stream.put(("lost",))
                continue
            stamp = stamp_of.get(stream.slot.user_id) or b"0"
            if stamp != stream.stamp or live_tokens.get(stream.token_key) != 1:
                stream.stamp = stamp
                stream.put(("check",))


def hub(app):
    """The process's hub of ``app``."""
    found = app.extensions.get("stream_hub")
    if found is None:
        found = app.extensions.setdefault("stream_hub", Hub(app))
    return found


def new_queue():
    return queue.Queue(QUEUE_SIZE)
