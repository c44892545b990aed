"""An LLM client for synthesis: the `openai` package's AsyncOpenAI against any OpenAI-compatible endpoint.

What it adds to the SDK: a content-addressed response cache (a re-run pays nothing), requests/min and
tokens/min limits shared by all workers, exponential backoff with jitter on 429 (honouring
Retry-After), 5xx, timeouts and connection errors, bounded concurrency, and token accounting. When the
endpoint stays down a request gives up after `max_attempts` or `give_up_after_s` with
`EndpointUnavailable`: the batch stops, every response received so far is already in the cache, and a
re-run resumes from there. The API key is read when the client is built and is never logged or stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import random
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from operators.synthesis.cache import ResponseCache, cache_key
from operators.synthesis.ratelimit import LocalLimiter, SharedLimiter
from operators.synthesis.usage import Usage

logger = logging.getLogger(__name__)

BASE_URL_ENV = ("CHARDIAL_LLM_BASE_URL", "OPENAI_BASE_URL")
API_KEY_ENV = ("CHARDIAL_LLM_API_KEY", "OPENAI_API_KEY")
RETRYABLE_STATUS = frozenset({408, 409, 429})
FATAL_STATUS = frozenset({401, 403, 404})


class Prices(BaseModel):
    """Prices per million tokens, for the cost estimate in the usage table."""

    model_config = ConfigDict(extra="forbid")

    input_per_million: float = Field(0.0, ge=0, description="USD per million prompt tokens.")
    output_per_million: float = Field(0.0, ge=0, description="USD per million completion tokens.")


class VLLMSettings(BaseModel):
    """The offline vLLM engine for `backend: vllm` (ray.data.llm on GPU nodes); ignored by the openai backend."""

    model_config = ConfigDict(extra="forbid")

    engine_kwargs: dict[str, Any] = Field(default_factory=dict, description="vLLM EngineArgs, e.g. max_model_len, tensor_parallel_size, gpu_memory_utilization.")
    concurrency: int = Field(1, ge=1, description="Engine replicas (an autoscaling pool of 1..N).")
    batch_size: int = Field(32, ge=1, description="Rows per engine batch.")
    max_concurrent_batches: int = Field(8, ge=1, description="Batches in flight per replica, so batches overlap.")
    accelerator_type: str | None = Field(None, description="Ray accelerator type, e.g. H100; null: any GPU.")
    runtime_env: dict[str, Any] | None = Field(None, description="Ray runtime_env of the engine stage (e.g. a venv with vllm).")


class LLMConfig(BaseModel):
    """How to reach the model and how hard to push it. Shared by every synthesis operator."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["openai", "vllm"] = Field("openai", description="openai: any OpenAI-compatible endpoint; vllm: the offline engine via ray.data.llm on GPUs.")
    model: str = Field(min_length=1, description="Model name sent to the endpoint, or the model path/id the vLLM engine loads.")
    base_url: str | None = Field(None, description=f"Endpoint URL, e.g. http://host:8000/v1; default: ${BASE_URL_ENV[0]}, then ${BASE_URL_ENV[1]}.")
    api_key: SecretStr | None = Field(None, description=f"API key; better left out of YAML: default ${API_KEY_ENV[0]}, then ${API_KEY_ENV[1]}.")
    temperature: float = Field(0.9, ge=0, le=2, description="Sampling temperature.")
    top_p: float | None = Field(None, gt=0, le=1, description="Nucleus sampling; null: the endpoint's default.")
    max_tokens: int = Field(2048, ge=1, description="Completion token cap per request.")
    seed: int = Field(0, description="Base seed; each request's seed is derived from it and the row, so runs are reproducible.")
    structured_output: Literal["json_schema", "json_object", "none"] = Field(
        "json_schema", description="json_schema: response_format with the schema; json_object: JSON mode; none: prompt only."
    )
    timeout_s: float = Field(120.0, gt=0, description="Per-request timeout.")
    max_attempts: int = Field(6, ge=1, description="Attempts per request on 429, 5xx, timeouts and connection errors.")
    backoff_initial_s: float = Field(1.0, gt=0, description="First backoff; doubles per attempt, with jitter.")
    backoff_max_s: float = Field(60.0, gt=0, description="Cap on one backoff.")
    give_up_after_s: float = Field(900.0, gt=0, description="A request that has failed for this long stops the job (progress stays cached).")
    max_concurrent_requests: int = Field(16, ge=1, description="Requests in flight per actor (all its batches together).")
    requests_per_minute: float | None = Field(None, gt=0, description="Global request rate limit across all workers; null: none.")
    tokens_per_minute: float | None = Field(None, gt=0, description="Global token rate limit (prompt + completion, estimated up front); null: none.")
    cache: str | None = Field(".cache/characterdial/llm", description="Response cache folder or fsspec URL (s3://..., gs://...); null disables.")
    max_validation_retries: int = Field(2, ge=0, description="Re-asks, with the error fed back, when a response fails parsing, validation or checks.")
    prices: Prices | None = Field(None, description="Prices for the cost estimate; null: no cost reported.")
    extra_body: dict[str, Any] = Field(default_factory=dict, description="Extra request fields for the endpoint (e.g. vLLM's top_k); part of the cache key.")
    vllm: VLLMSettings = Field(default_factory=VLLMSettings, description="Engine settings for backend: vllm.")

    def missing_endpoint(self) -> str | None:
        """A one-line message when the openai backend has no endpoint configured, for runners that skip synthesis."""
        if self.backend != "openai" or self.base_url or any(os.environ.get(name) for name in BASE_URL_ENV):
            return None
        return (f"synthesis skipped: no LLM endpoint configured (set ${BASE_URL_ENV[0]} and ${API_KEY_ENV[0]}, "
                "or llm.base_url in the pipeline; see docs/synthesis.md)")

    def resolved_base_url(self) -> str:
        url = self.base_url or next((os.environ[name] for name in BASE_URL_ENV if os.environ.get(name)), None)
        if not url:
            raise EndpointConfigError(f"no LLM endpoint configured: set `base_url` in the llm config or ${BASE_URL_ENV[0]}")
        return url

    def resolved_api_key(self) -> str:
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        # local servers (vllm serve, Ray Serve LLM) accept any key; the SDK insists on a non-empty one
        return next((os.environ[name] for name in API_KEY_ENV if os.environ.get(name)), "EMPTY")


class EndpointUnavailable(RuntimeError):
    """The endpoint kept failing past the retry budget: stop the job; what was received is cached."""


class EndpointConfigError(RuntimeError):
    """The endpoint refuses us for a reason retrying cannot fix (no URL, bad key, unknown model)."""


class RequestRejected(Exception):
    """The endpoint rejected one request (400, 413, 422): that row becomes a reject, the job goes on."""


@dataclass(frozen=True)
class Completion:
    """One chat completion, from the endpoint or the cache."""

    key: str
    text: str | None
    refusal: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cached: bool

    def stored(self) -> dict[str, Any]:
        return {"text": self.text, "refusal": self.refusal, "finish_reason": self.finish_reason,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}


def derive_seed(base: int, *parts: str) -> int:
    """A 31-bit request seed from the base seed and row identity: stable across runs and block layouts."""
    digest = hashlib.blake2b(json.dumps([base, *parts], ensure_ascii=False).encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


def response_format(mode: str, name: str, schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """The `response_format` request field for a structured-output mode."""
    if mode == "json_schema" and schema is not None:
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": False}}
    if mode in ("json_schema", "json_object"):
        return {"type": "json_object"}
    return None


def _retry_after(error: Exception) -> float | None:
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(header)
        if value is not None:
            try:
                return max(0.0, float(value) / divisor)
            except ValueError:
                continue
    return None


class LLMClient:
    """Cached, rate-limited, retrying chat completions; one per operator instance (per actor)."""

    def __init__(self, config: LLMConfig, limiter_name: str | None = None) -> None:
        self.config = config
        self.base_url = config.resolved_base_url()
        self.cache = ResponseCache(config.cache) if config.cache else None
        self.usage = Usage()
        self._limiter_name = limiter_name
        self._limiter: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._semaphore: asyncio.Semaphore | None = None
        self._inflight: dict[str, asyncio.Future] = {}
        import openai  # noqa: F401  (a second of import time belongs to setup, not to the first request)

    def _bind(self) -> None:
        """(Re)build the loop-bound parts: an SDK client and a semaphore belong to one event loop."""
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        from openai import AsyncOpenAI

        self._loop = loop
        # retries are ours (shared pause on 429, give-up deadline), so the SDK's own are off
        self._client = AsyncOpenAI(base_url=self.base_url, api_key=self.config.resolved_api_key(), max_retries=0, timeout=self.config.timeout_s)
        self._semaphore = asyncio.Semaphore(self.config.max_concurrent_requests)
        self._inflight = {}
        if self._limiter is None and (self.config.requests_per_minute or self.config.tokens_per_minute):
            self._limiter = self._make_limiter()

    def _make_limiter(self) -> Any:
        rpm, tpm = self.config.requests_per_minute, self.config.tokens_per_minute
        try:
            import ray

            if self._limiter_name and ray.is_initialized():
                return SharedLimiter(self._limiter_name, rpm, tpm)
        except ImportError:
            pass
        return LocalLimiter(rpm, tpm)

    def request_body(self, messages: list[dict[str, str]], seed: int, schema_name: str, schema: dict[str, Any] | None) -> dict[str, Any]:
        """The chat.completions request, minus transport settings: exactly what the cache key covers."""
        c = self.config
        body: dict[str, Any] = {"model": c.model, "messages": messages, "temperature": c.temperature, "max_tokens": c.max_tokens, "seed": seed}
        if c.top_p is not None:
            body["top_p"] = c.top_p
        fmt = response_format(c.structured_output, schema_name, schema)
        if fmt is not None:
            body["response_format"] = fmt
        return body

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        seed: int,
        template_version: str,
        schema_name: str = "response",
        schema: dict[str, Any] | None = None,
    ) -> Completion:
        """One chat completion: from the cache when this exact request was answered before."""
        self._bind()
        body = self.request_body(messages, seed, schema_name, schema)
        key = cache_key({"request": body, "extra_body": self.config.extra_body, "template_version": template_version})
        # identical requests in flight at once (two rows of one seed) share one call
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self._cached_or_fetch(key, body)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # mark retrieved: nobody else may be waiting
            raise
        else:
            future.set_result(result)
            return result
        finally:
            self._inflight.pop(key, None)

    async def _cached_or_fetch(self, key: str, body: dict[str, Any]) -> Completion:
        if self.cache is not None:
            stored = await asyncio.to_thread(self.cache.get, key)
            if stored is not None:
                self.usage.cache_hits += 1
                self.usage.cached_prompt_tokens += stored.get("prompt_tokens") or 0
                self.usage.cached_completion_tokens += stored.get("completion_tokens") or 0
                return Completion(key=key, cached=True, text=stored.get("text"), refusal=stored.get("refusal"),
                                  finish_reason=stored.get("finish_reason"), prompt_tokens=stored.get("prompt_tokens") or 0,
                                  completion_tokens=stored.get("completion_tokens") or 0)
        completion = await self._fetch(key, body)
        if self.cache is not None:
            await asyncio.to_thread(self.cache.put, key, completion.stored())
        return completion

    async def _fetch(self, key: str, body: dict[str, Any]) -> Completion:
        import openai

        c = self.config
        assert self._semaphore is not None
        estimate = len(json.dumps(body["messages"], ensure_ascii=False)) // 3 + c.max_tokens
        # the SDK walks typed parameters through its TypedDict transforms (milliseconds for a JSON schema);
        # response_format goes as plain JSON instead, byte-for-byte the same request
        typed = {k: v for k, v in body.items() if k != "response_format"}
        untyped = {**c.extra_body, **({"response_format": body["response_format"]} if "response_format" in body else {})}
        started = time.monotonic()
        last_error = "none"
        for attempt in range(1, c.max_attempts + 1):
            async with self._semaphore:
                if self._limiter is not None:
                    await self._limiter.acquire(estimate)
                try:
                    response = await self._client.chat.completions.create(**typed, extra_body=untyped or None)
                except openai.APIStatusError as error:
                    self.usage.failed_requests += 1
                    status = error.status_code
                    if status in FATAL_STATUS:
                        raise EndpointConfigError(f"LLM endpoint {self.base_url} answered {status} for model {c.model!r}: {_short(error)}") from None
                    if status < 500 and status not in RETRYABLE_STATUS:
                        raise RequestRejected(f"{status}: {_short(error)}") from None
                    last_error = f"HTTP {status}: {_short(error)}"
                    wait = self._backoff(attempt)
                    if status == 429:
                        hinted = _retry_after(error)
                        wait = hinted if hinted is not None else wait
                        if self._limiter is not None:
                            # everyone waits, not just this request: the endpoint is over its limit
                            await self._limiter.pause(wait)
                except (openai.APITimeoutError, openai.APIConnectionError) as error:
                    self.usage.failed_requests += 1
                    last_error = f"{type(error).__name__}: {_short(error)}"
                    wait = self._backoff(attempt)
                else:
                    completion = self._completion(key, response)
                    if self._limiter is not None:
                        await self._limiter.settle(estimate, completion.prompt_tokens + completion.completion_tokens)
                    return completion
            elapsed = time.monotonic() - started
            if attempt == c.max_attempts or elapsed + wait > c.give_up_after_s:
                break
            logger.warning("LLM request failed (%s); attempt %d/%d, retrying in %.1fs", last_error, attempt, c.max_attempts, wait)
            await asyncio.sleep(wait)
        where = f"; responses so far are cached in {c.cache}, re-run to resume" if c.cache else ""
        raise EndpointUnavailable(
            f"LLM endpoint {self.base_url} unavailable: {attempt} attempts over {time.monotonic() - started:.1f}s, last error {last_error}{where}"
        )

    def _completion(self, key: str, response: Any) -> Completion:
        choice = response.choices[0] if response.choices else None
        message = choice.message if choice is not None else None
        usage = response.usage
        prompt_tokens = (usage.prompt_tokens or 0) if usage is not None else 0
        completion_tokens = (usage.completion_tokens or 0) if usage is not None else 0
        self.usage.requests += 1
        self.usage.prompt_tokens += prompt_tokens
        self.usage.completion_tokens += completion_tokens
        return Completion(
            key=key,
            text=message.content if message is not None else None,
            refusal=getattr(message, "refusal", None) if message is not None else None,
            finish_reason=choice.finish_reason if choice is not None else None,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cached=False,
        )

    def _backoff(self, attempt: int) -> float:
        """Equal jitter: half of min(cap, initial * 2^(attempt-1)) plus a uniform draw over the other half."""
        c = self.config
        ceiling = min(c.backoff_max_s, c.backoff_initial_s * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()


def _short(error: Exception, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text[:limit]
