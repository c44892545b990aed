"""Requests/min and tokens/min limits shared by every worker of a run.

A limiter hands out reservations: `reserve(tokens)` books one request and an estimated number of tokens
and answers how long the caller must wait before sending. Booking ahead (the bucket may go negative)
means callers never poll and never starve each other. `pause(seconds)` stops everyone after a 429, and
`settle(estimated, actual)` corrects the token budget once the real usage is known.

Inside a Ray job every actor talks to one small named limiter actor, so the limit is global, not per
actor; outside Ray (tests, a notebook) the same bucket lives in-process.
"""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """A bucket refilled at `per_minute / 60` units per second, holding at most `burst` units."""

    def __init__(self, per_minute: float, burst: float | None = None, now: float | None = None) -> None:
        self.rate = per_minute / 60.0
        # one second's worth (at least one unit) by default: smooth, yet a single request always fits
        self.burst = burst if burst is not None else max(1.0, self.rate)
        self.level = self.burst
        self.updated = time.monotonic() if now is None else now

    def reserve(self, units: float, now: float) -> float:
        """Book `units` now; the seconds until the booking is covered."""
        # a clock that went backwards (another caller's older reading) adds nothing
        self.level = min(self.burst, self.level + max(0.0, now - self.updated) * self.rate)
        self.updated = max(self.updated, now)
        self.level -= units
        return 0.0 if self.level >= 0 else -self.level / self.rate

    def refund(self, units: float) -> None:
        """Give back (or, negative, take more) units after the real cost is known."""
        self.level = min(self.burst, self.level + units)


class RateLimiter:
    """Requests/min and tokens/min buckets plus a shared pause; None for a limit means unlimited."""

    def __init__(self, requests_per_minute: float | None = None, tokens_per_minute: float | None = None) -> None:
        self.requests = TokenBucket(requests_per_minute) if requests_per_minute else None
        self.tokens = TokenBucket(tokens_per_minute, burst=tokens_per_minute / 60.0 * 5) if tokens_per_minute else None
        self.paused_until = 0.0

    def reserve(self, tokens: int) -> float:
        """Book one request of about `tokens` tokens; the seconds to wait before sending it."""
        now = time.monotonic()
        wait = max(0.0, self.paused_until - now)
        if self.requests is not None:
            wait = max(wait, self.requests.reserve(1, now))
        if self.tokens is not None:
            # a request larger than the burst would never fit: book at most the whole burst
            wait = max(wait, self.tokens.reserve(min(tokens, self.tokens.burst), now))
        return wait

    def pause(self, seconds: float) -> None:
        """Nobody sends for `seconds` (the endpoint said 429)."""
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    def settle(self, estimated: int, actual: int) -> None:
        if self.tokens is not None:
            self.tokens.refund(estimated - actual)


class LocalLimiter:
    """The in-process limiter, with the async interface the client uses."""

    def __init__(self, requests_per_minute: float | None, tokens_per_minute: float | None) -> None:
        self.limiter = RateLimiter(requests_per_minute, tokens_per_minute)

    async def acquire(self, tokens: int) -> None:
        wait = self.limiter.reserve(tokens)
        if wait > 0:
            await asyncio.sleep(wait)

    async def pause(self, seconds: float) -> None:
        self.limiter.pause(seconds)

    async def settle(self, estimated: int, actual: int) -> None:
        self.limiter.settle(estimated, actual)


class SharedLimiter:
    """The limiter of a Ray job: one named actor per (run, endpoint, model) that every worker reserves from.

    The first worker to ask creates it and owns it; when that worker exits (its stage finished, the pool
    shrank) Ray ends the limiter too, so a worker that finds it dead creates the next one. The budget
    restarts full then, which at worst allows one extra burst.
    """

    def __init__(self, name: str, requests_per_minute: float | None, tokens_per_minute: float | None) -> None:
        self.name = name
        self.limits = (requests_per_minute, tokens_per_minute)
        self.actor = self._get()

    def _get(self):  # type: ignore[no-untyped-def]
        import ray

        actor_class = ray.remote(num_cpus=0)(RateLimiter)
        # get_if_exists: the first worker creates it, every other worker finds it
        return actor_class.options(name=self.name, namespace="characterdial", get_if_exists=True).remote(*self.limits)

    async def _call(self, method: str, *args: float) -> float | None:
        from ray.exceptions import RayActorError

        try:
            return await getattr(self.actor, method).remote(*args)
        except RayActorError:
            self.actor = self._get()
            return await getattr(self.actor, method).remote(*args)

    async def acquire(self, tokens: int) -> None:
        wait = await self._call("reserve", tokens)
        if wait:
            await asyncio.sleep(wait)

    async def pause(self, seconds: float) -> None:
        await self._call("pause", seconds)

    async def settle(self, estimated: int, actual: int) -> None:
        await self._call("settle", estimated, actual)
