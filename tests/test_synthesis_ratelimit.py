"""Token buckets of the rate limiter: reservations, bursts, pauses and settling token estimates."""

from __future__ import annotations

import pytest

from operators.synthesis.ratelimit import RateLimiter, TokenBucket


def test_bucket_books_ahead_at_its_rate():
    bucket = TokenBucket(per_minute=120, now=100.0)  # 2/s, burst 2
    waits = [bucket.reserve(1, now=100.0) for _ in range(5)]
    assert waits == [0.0, 0.0, 0.5, 1.0, 1.5]
    # two seconds later the debt is paid and the bucket refills to its burst, not beyond
    assert bucket.reserve(1, now=103.5) == 0.0 and bucket.level == pytest.approx(1.0)


def test_tokens_per_minute_waits_for_large_requests_and_settles():
    limiter = RateLimiter(tokens_per_minute=6000)  # 100 tokens/s, burst 500
    assert limiter.reserve(400) == 0.0
    wait = limiter.reserve(400)
    assert 2.9 < wait <= 3.0
    # the first request used 100 tokens, not 400: the 300 come back
    limiter.settle(400, 100)
    assert limiter.tokens.level == pytest.approx(-300 + 300, abs=1.0)


def test_a_request_larger_than_the_burst_still_fits():
    limiter = RateLimiter(tokens_per_minute=600)  # burst 50 tokens
    assert limiter.reserve(10_000) == 0.0


def test_pause_holds_every_reservation():
    limiter = RateLimiter(requests_per_minute=6000)
    limiter.pause(2.0)
    assert 1.9 < limiter.reserve(1) <= 2.0
