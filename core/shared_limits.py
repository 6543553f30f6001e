"""Limits shared by several processes through Redis: with LLM_BATCH_REDIS_URL set, every key's (and
key group's) pacing bucket and cool-down live in Redis, so N processes (replicas of the app, the app
and the command line) together stay within a key's limit. Without it nothing here is used.

    shared = shared_limits_from_env()                  # None without LLM_BATCH_REDIS_URL
    answer = await shared.admit(ident, rate, capacity) # Admission(wait_s=0.0): taken, send now
    shared.cool(ident, delay_s, rate, capacity)        # a 429: every process cools the key

Each step is one atomic Lua script (read the bucket, leak it, decide, take): nothing is locked and
nothing interleaves between processes. The bucket is the gate's own leaky bucket (core/limits.py)
moved into Redis, the same level and stamp, on Redis's clock (one clock for every process). Each
process still learns its pace itself; the bucket holds the admissions of all of them, so together
they go at the pace. A 429 seen by one process cools the key for all, and after it one request
goes, then the pace (no burst). Names in Redis are hashes of the key's limit id, itself a hash:
no API key leaves the process. When Redis cannot be reached, each process paces alone, says so
(`problem`), and asks Redis again every REDIS_RETRY_S: a run never hangs on Redis.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import constants as C

__all__ = ["Admission", "SharedLimits", "shared_limits_from_env", "safe_url"]

# KEYS: the requests bucket, the tokens bucket (hashes of level and stamp), the cool-down's end.
# ARGV: now ('' = Redis's clock), 'admit' or 'cool', the request rate (per s) and capacity, then
#   admit: the token rate (0: none), token capacity, tokens;  cool: the cool-down in seconds.
# Returns {code, seconds}: 0 admitted, 1 wait for the pace, 2 cooling; seconds as text (a Lua
# number would come back as an integer).
_SCRIPT = """
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local rate, capacity = tonumber(ARGV[3]), tonumber(ARGV[4])
local function num(x) return string.format('%.17g', x) end
local function load(key, r)
  local v = redis.call('HMGET', key, 'level', 'stamp')
  local level, stamp = tonumber(v[1]) or 0, tonumber(v[2]) or now
  if now > stamp then
    level = math.max(0, level - (now - stamp) * r)
    stamp = now
  end
  return level, stamp
end
local function save(key, level, stamp, r)
  redis.call('HSET', key, 'level', num(level), 'stamp', num(stamp))
  -- gone a minute after it is empty: an idle key leaves nothing behind
  local ms = math.ceil((math.max(0, stamp - now) + level / r) * 1000) + 60000
  redis.call('PEXPIRE', key, math.min(ms, 86400000))
end
local function over(level, amount, cap)
  local o = level + math.min(amount, cap) - cap
  if o <= 1e-9 then return 0 end
  return o
end
local cool = tonumber(redis.call('GET', KEYS[3])) or 0
if ARGV[2] == 'admit' then
  if cool > now then return {2, num(cool - now)} end
  local level, stamp = load(KEYS[1], rate)
  local wait = over(level, 1, capacity) / rate
  local trate, tcap, tokens = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
  local tlevel, tstamp
  if trate > 0 and tokens > 0 then
    tlevel, tstamp = load(KEYS[2], trate)
    wait = math.max(wait, over(tlevel, tokens, tcap) / trate)
  end
  if wait > 0 then return {1, num(wait)} end
  save(KEYS[1], level + math.min(1, capacity), stamp, rate)
  if tlevel then save(KEYS[2], tlevel + math.min(tokens, tcap), tstamp, trate) end
  return {0, '0'}
end
cool = math.max(cool, now + tonumber(ARGV[5]))
redis.call('SET', KEYS[3], num(cool), 'PX', math.min(math.ceil((cool - now) * 1000) + 1000, 86400000))
-- at the cool-down's end one request may go, then the pace: not a burst
local level, stamp = load(KEYS[1], rate)
if cool > stamp then
  level, stamp = math.max(math.max(0, level - (cool - stamp) * rate), capacity - 1), cool
end
save(KEYS[1], level, stamp, rate)
return {2, num(cool - now)}
"""

Clock = Callable[[], float]


@dataclass(frozen=True)
class Admission:
    wait_s: float  # 0: admitted, the allowance is taken; else look again after this long
    cooling: bool = False  # the wait is a cool-down after a 429, seen by some process


def safe_url(url: str) -> str:
    """The URL as it may be shown: without its password."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if parts.port is not None:
            host += f":{parts.port}"
        user = f"{parts.username}:***@" if parts.username else ":***@"
        return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))
    except ValueError:
        return "(an unreadable URL)"


class SharedLimits:
    """Shared buckets and cool-downs in one Redis. Used on one event loop (its client's)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = C.REDIS_PREFIX,
        clock: Clock | None = None,
        timeout_s: float | None = C.REDIS_TIMEOUT_S,
        retry_s: float = C.REDIS_RETRY_S,
        monotonic: Clock = time.monotonic,
    ) -> None:
        self.url = url
        self.where = safe_url(url)
        self.prefix = prefix
        # None: Redis's own clock, the one every process shares. A test passes its loop's (and, on
        # a virtual clock, timeout_s=None: a timer would fire before any real reply arrives).
        self._clock = clock
        self._timeout_s = timeout_s
        self._retry_s = retry_s
        self._monotonic = monotonic
        self._client: Any = None  # made on first use, on the loop that uses it
        self._script: Any = None
        self._retry_at = -math.inf
        self._tasks: set[asyncio.Task[object]] = set()
        self.problem: str | None = None  # why limits are not shared right now, in a sentence
        self.failures = 0  # episodes of Redis being unreachable

    def key_id(self, limit_id: str) -> str:
        """The name of a limit in Redis: a hash of its limit id (itself a fingerprint)."""
        return hashlib.sha256(f"llm-batch-limit\0{limit_id}".encode()).hexdigest()[:32]

    def _keys(self, ident: str) -> list[str]:
        base = f"{self.prefix}:{{{ident}}}"  # one hash slot for the three: a Redis Cluster runs the script too
        return [f"{base}:requests", f"{base}:tokens", f"{base}:cool"]

    @property
    def healthy(self) -> bool:
        return self.problem is None

    async def admit(
        self, ident: str, rate: float, capacity: float, *, tokens: int = 0, token_rate: float = 0.0, token_capacity: float = 0.0
    ) -> Admission | None:
        """Take one request's allowance (and `tokens`) from the shared bucket if it may go now.
        None when Redis cannot be reached: the caller paces alone."""
        reply = await self._run(ident, "admit", rate, capacity, token_rate if tokens > 0 else 0.0, token_capacity, float(tokens))
        if reply is None:
            return None
        code, seconds = reply
        return Admission(0.0 if code == 0 else max(seconds, 0.0), code == 2)

    async def cool_down(self, ident: str, delay_s: float, rate: float, capacity: float) -> float | None:
        """Cool the key down for every process (a 429): for `delay_s`, or longer if another process
        already cools it. Returns the seconds left (None: Redis unreachable)."""
        reply = await self._run(ident, "cool", rate, capacity, max(delay_s, 0.0))
        return reply[1] if reply is not None else None

    def cool(self, ident: str, delay_s: float, rate: float, capacity: float) -> None:
        """`cool_down` in the background of the running loop, for a caller that cannot wait."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task: asyncio.Task[object] = loop.create_task(self.cool_down(ident, delay_s, rate, capacity))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Wait for the cool-downs sent in the background."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _run(self, ident: str, op: str, *args: float) -> tuple[int, float] | None:
        if self.problem is not None and self._monotonic() < self._retry_at:
            return None
        import redis.exceptions

        try:
            script = self._ensure()
            now = "" if self._clock is None else repr(float(self._clock()))
            async with asyncio.timeout(self._timeout_s * 2 if self._timeout_s is not None else None):  # the client's own come first
                reply = await script(keys=self._keys(ident), args=[now, op, *(repr(float(a)) for a in args)])
            code, seconds = int(reply[0]), float(reply[1])
        except (redis.exceptions.RedisError, OSError, TimeoutError, ValueError, TypeError, IndexError) as exc:
            self._down(exc)
            return None
        self.problem = None
        return code, seconds

    def _ensure(self) -> Any:
        if self._script is None:
            import redis.asyncio
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            # No retries of its own: an unreachable Redis is answered here, by pacing alone.
            self._client = redis.asyncio.Redis.from_url(
                self.url, socket_timeout=self._timeout_s, socket_connect_timeout=self._timeout_s, retry=Retry(NoBackoff(), 0), decode_responses=True
            )
            self._script = self._client.register_script(_SCRIPT)
        return self._script

    def _down(self, exc: BaseException) -> None:
        if self.problem is None:
            self.failures += 1
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        password = urlsplit(self.url).password if "@" in self.url else None
        if password:
            reason = reason.replace(password, "***")
        self.problem = (
            f"Shared limits are off: Redis at {self.where} cannot be reached ({reason[:200]}). Each process paces its keys alone until it is "
            f"back, so together they may go over a key's limit (429s slow them down); Redis is tried again every {self._retry_s:g} s."
        )
        self._retry_at = self._monotonic() + self._retry_s

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        client, self._client, self._script = self._client, None, None
        if client is not None:
            try:
                await client.aclose()
            except Exception:  # closing a dead connection must not hide anything
                pass


def shared_limits_from_env(env: dict[str, str] | None = None) -> SharedLimits | None:
    """The process's shared limits if LLM_BATCH_REDIS_URL is set, else None (one process alone)."""
    url = (env if env is not None else os.environ).get(C.REDIS_URL_ENV, "").strip()
    return SharedLimits(url) if url else None
