"""A per-token limit of calls a minute, counted in Redis (fixed one-minute windows).

Every web process shares the count through Redis (API_RATE_LIMIT_REDIS_URL, else REDIS_URL). With
no Redis at all (the demo) each process counts in its own memory. If Redis cannot be reached the
call is let through and a warning logged: the limit protects the server, it is not an access check.
"""

import logging
import time

import redis
from django.conf import settings
from django.core.cache import caches

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60
_clients: dict[str, redis.Redis] = {}


def seconds_to_wait(*, key: str, limit: int, now: float | None = None) -> int:
    """0 when this call is within `limit` calls in the current minute for `key`; else the seconds
    until the next window opens (the Retry-After)."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    counter_key = f"tierboard:api:rate:{key}:{window}"
    try:
        calls = _count(counter_key)
    except redis.RedisError:
        log.warning("API rate limit not checked: Redis unreachable", exc_info=True)
        return 0
    if calls <= limit:
        return 0
    return max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))


def _count(counter_key: str) -> int:
    url = settings.API_RATE_LIMIT_REDIS_URL
    if not url:
        cache = caches["default"]
        cache.add(counter_key, 0, WINDOW_SECONDS * 2)
        return int(cache.incr(counter_key))
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    pipe = client.pipeline()
    pipe.incr(counter_key)
    pipe.expire(counter_key, WINDOW_SECONDS * 2)
    calls, _ = pipe.execute()
    return int(calls)
