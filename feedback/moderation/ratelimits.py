"""Rate limits per user and per client address for votes, submissions, reports and uploads.

    from feedback.moderation.ratelimits import rate_limit

    rate_limit(request, "votes")          # in a view or an API view, before the service call
    rate_limit(self.scope, "submissions")  # in a websocket consumer (sync: wrap it)

`rate_limit` raises `community.errors.RateLimited(retry_after, message)` when the user, or the
address the request comes from, has used up its budget for the action; pages, the API and the
websocket answer it with 429, the message and a `Retry-After` header (the websocket: a notice).
A refused request is not counted and writes nothing.

Budgets come from the settings `RATE_LIMITS` (per signed-in user) and
`RATE_LIMITS_PER_ADDRESS` (per client address, shared by everyone behind it), each
`{"votes": "60/minute", ...}` with periods second, minute, hour or day; "" or "none" switches a
limit off. They are read on every call, so a changed setting applies at once.

The window slides: the count is this fixed window's requests plus the previous window's,
weighted by how much of the previous window still lies within one period of now (the
"sliding window counter"). It never lets through twice the budget at a window boundary, as a
plain fixed window would, and needs two cache keys per budget, not one entry per request.
Counters live in Django's cache (Redis with REDIS_URL, else the process's local memory); the
increment is atomic, and a request over the budget takes its increment back.

The client address is REMOTE_ADDR, unless REMOTE_ADDR is one of
`RATE_LIMIT_TRUSTED_PROXIES` (addresses or networks, e.g. "127.0.0.1", "10.0.0.0/8"): then
`X-Forwarded-For` is read from the right, skipping trusted proxies, and the first address that
is not one of them is the client. Without trusted proxies the header is ignored, as anyone
can send it.
"""

import ipaddress
import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from community.errors import RateLimited

ACTIONS = ("votes", "submissions", "reports", "uploads")
_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_PER = {"second": "a second", "minute": "a minute", "hour": "an hour", "day": "a day"}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)s?\s*$")


@dataclass(frozen=True)
class Rate:
    count: int
    unit: str  # "second" | "minute" | "hour" | "day"

    @property
    def seconds(self) -> int:
        return _PERIODS[self.unit]

    def __str__(self) -> str:
        return f"{self.count} {_PER[self.unit]}"


@dataclass(frozen=True)
class Budget:
    """A number of requests a period for one thing (a user's votes, an address's votes, an API
    token's requests); `refusal(wait)` is the exception raised when it is used up."""

    name: str
    rate: Rate
    refusal: Callable[[int], Exception]

    def keys(self, now: float) -> tuple[str, str]:
        """The counters of this window and of the one before."""
        window = math.floor(now / self.rate.seconds)
        prefix = f"{self.name}:{self.rate.seconds}"
        return f"{prefix}:{window}", f"{prefix}:{window - 1}"


def rate_parse(text: str) -> Rate | None:
    """ "60/minute" -> Rate(60, "minute"); "" or "none" -> None (no limit)."""
    if not text or text.strip().lower() == "none":
        return None
    found = _RATE.match(text.lower())
    if found is None:
        raise ValueError(f"a rate reads like '60/minute' (second, minute, hour or day), not {text!r}")
    return Rate(count=int(found.group(1)), unit=found.group(2))


def clock() -> float:
    """Now, in seconds since the epoch. Tests replace it to move time."""
    return time.time()


def rate_limit(request_or_scope: Any, action: str, *, also: Sequence[Budget] = ()) -> None:
    """Count one `action` for the requesting user and address, or raise RateLimited (and count
    nothing) when either budget is used up. Takes an HttpRequest, a DRF Request or a
    Channels scope. `also`: more budgets to take in the same step (the API's throttle: see
    feedback/researchapi/throttling.py), each raising its own refusal when full."""
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}, not {action!r}")
    user, address = _requester(request_or_scope)
    budgets = list(also)
    if user is not None and user.is_authenticated:
        budgets.append(action_budget(action, "user", str(user.pk), settings.RATE_LIMITS.get(action, "")))
    if address:
        budgets.append(action_budget(action, "address", address, settings.RATE_LIMITS_PER_ADDRESS.get(action, "")))
    budgets_take([budget for budget in budgets if budget is not None])


def action_budget(action: str, scope: str, ident: str, rate_text: str) -> Budget | None:
    """The budget of `action` for one user or address; None when that limit is off."""
    rate = rate_parse(rate_text)
    if rate is None:
        return None
    return Budget(
        name=f"{settings.RATE_LIMIT_KEY_PREFIX}:{action}:{scope}:{ident}",
        rate=rate,
        refusal=lambda wait: RateLimited(wait, _message(action, scope, rate, wait)),
    )


def budgets_take(budgets: Sequence[Budget]) -> None:
    """Count one request against every budget, all or none: if one is used up, nothing is
    counted and its refusal is raised (the first full one, in order). With Redis this is one
    round trip (a Lua script, atomic on the server); in local memory a lock makes it atomic
    within the process."""
    if not budgets:
        return
    now = clock()
    full = _take_in_redis(budgets, now) if _redis_client() is not None else _take_in_memory(budgets, now)
    if full is not None:
        index, current, previous = full
        budget = budgets[index]
        elapsed = now - math.floor(now / budget.rate.seconds) * budget.rate.seconds
        raise budget.refusal(_wait(budget.rate.count, current, previous, elapsed, budget.rate.seconds))


# KEYS: each budget's (current, previous) counters; ARGV: each budget's (limit, weight of the
# previous window, expiry). Counts into every current counter; at the first budget whose
# weighted count goes over its limit, takes every count back and answers (its index from 1,
# its count without this request, the previous window's count); else 0.
_TAKE_SCRIPT = """
local taken = 0
for i = 1, #KEYS / 2 do
    local current = redis.call('INCR', KEYS[2 * i - 1])
    if current == 1 then redis.call('EXPIRE', KEYS[2 * i - 1], ARGV[3 * i]) end
    taken = i
    local previous = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
    if current + previous * tonumber(ARGV[3 * i - 1]) > tonumber(ARGV[3 * i - 2]) then
        for j = 1, taken do redis.call('DECR', KEYS[2 * j - 1]) end
        return {i, current - 1, previous}
    end
end
return 0
"""
_script: list = []  # the registered script (redis-py's Script: EVALSHA, loaded when Redis lacks it)
_memory_lock = threading.Lock()


def _redis_client():
    """The redis-py client behind Django's Redis cache, or None for another cache."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    return backend._cache.get_client(write=True)


def _take_in_redis(budgets: Sequence[Budget], now: float) -> tuple[int, int, int] | None:
    client = _redis_client()
    if not _script:
        _script.append(client.register_script(_TAKE_SCRIPT))
    keys, arguments = [], []
    for budget in budgets:
        period = budget.rate.seconds
        keys += [cache.make_key(key) for key in budget.keys(now)]
        arguments += [budget.rate.count, repr(1 - (now % period) / period), 2 * period + 1]
    answer = _script[0](keys=keys, args=arguments, client=client)
    if not answer:
        return None
    return int(answer[0]) - 1, int(answer[1]), int(answer[2])


def _take_in_memory(budgets: Sequence[Budget], now: float) -> tuple[int, int, int] | None:
    with _memory_lock:
        taken: list[str] = []
        for index, budget in enumerate(budgets):
            period = budget.rate.seconds
            current_key, previous_key = budget.keys(now)
            current = cache.get(current_key, 0) + 1
            cache.set(current_key, current, timeout=2 * period + 1)
            taken.append(current_key)
            previous = cache.get(previous_key, 0)
            if current + previous * (1 - (now % period) / period) > budget.rate.count:
                for key in taken:
                    cache.set(key, cache.get(key, 1) - 1, timeout=2 * period + 1)
                return index, current - 1, previous
    return None


def client_address(request_or_scope: Any) -> str:
    """The client's IP address, by the rule in the module's docstring ("" when unknown)."""
    if isinstance(request_or_scope, dict):
        client = request_or_scope.get("client") or ("",)
        remote = client[0] or ""
        headers = dict(request_or_scope.get("headers") or [])
        forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
    else:
        meta = request_or_scope.META
        remote = meta.get("REMOTE_ADDR", "") or ""
        forwarded = meta.get("HTTP_X_FORWARDED_FOR", "") or ""
    trusted = _trusted_networks()
    if not trusted or not forwarded or not _is_in(remote, trusted):
        return remote
    for hop in reversed([part.strip() for part in forwarded.split(",")]):
        if _parse_address(hop) is None:
            break
        if not _is_in(hop, trusted):
            return hop
        remote = hop
    return remote


def _requester(request_or_scope: Any) -> tuple[Any, str]:
    if isinstance(request_or_scope, dict):
        return request_or_scope.get("user"), client_address(request_or_scope)
    return getattr(request_or_scope, "user", None), client_address(request_or_scope)


def _wait(limit: int, current: int, previous: int, elapsed: float, period: int) -> int:
    """Whole seconds (at least 1) until one more request fits: the weighted count falls as the
    previous window slides out; if this window alone is full, wait into the next one. A budget
    of 0 never lets anything through: the answer is the end of this window."""
    if limit <= 0:
        return max(1, math.ceil(period - elapsed))
    if previous > 0 and current <= limit - 1:
        moment = period * (1 - (limit - 1 - current) / previous)  # into this window
        if moment < period:
            return max(1, math.ceil(moment - elapsed))
    into_next = period * (1 - (limit - 1) / current) if current > limit - 1 else 0.0
    return max(1, math.ceil(period - elapsed + into_next))


def _message(action: str, scope: str, rate: Rate, wait: int) -> str:
    source = "" if scope == "user" else " from your network address"
    seconds = "1 second" if wait == 1 else f"{wait:,} seconds"
    if wait >= 120:
        seconds = f"{math.ceil(wait / 60)} minutes"
    return f"Too many {action}{source}: at most {rate}. Try again in {seconds}."


def _trusted_networks() -> list:
    networks = []
    for entry in settings.RATE_LIMIT_TRUSTED_PROXIES:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"RATE_LIMIT_TRUSTED_PROXIES: {entry!r} is not an address or a network") from None
    return networks


def _parse_address(text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_in(address: str, networks: list) -> bool:
    parsed = _parse_address(address)
    return parsed is not None and any(parsed in network for network in networks)
