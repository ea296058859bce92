"""RemoteLM: the LM interface over a hosted API or an OpenAI-compatible server, through `dspy.LM`.

A spec like "openai/gpt-4o-mini", "ollama_chat/llama3" or "openai/smollm2" with an api_base names a
remote model (see `is_remote_spec`). What works remotely:

  generate       each request is one chat completion; requests run concurrently on a thread pool,
                 and DSPy retries transient failures (rate limits, 5xx, timeouts) with exponential
                 back-off (`num_retries`). Tokens and estimated cost are counted on `self.usage`.
  chat layout    `apply_chat_template` writes the messages as ChatML text ("<|im_start|>role ...");
                 `generate` parses it back and sends the real messages, so the server applies its
                 own chat template. A plain-layout prompt is sent as one user message.
  loglikelihood  not available: chat APIs do not score a given continuation, so label tasks need a
                 local model (a UserError says so). Use a generation task (no `labels`) instead.

Results are cached by the evaluator under `name`, which includes the API base: two servers may
serve different weights under the same model name.
"""
from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit

from promptsearch.errors import ConfigError, UserError
from promptsearch.lm.backends import BACKENDS
from promptsearch.lm.base import (LM, GenerateRequest, GenerateResult, LoglikelihoodRequest,
                                  LoglikelihoodResult)
from promptsearch.lm.usage import USAGE_KEYS, UsageCounter, record_usage, usage_snapshot  # noqa: F401

log = logging.getLogger(__name__)


class _QuietTruncation(logging.Filter):
    """DSPy warns on every answer cut at max_tokens; short answers are what we ask for."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "truncated" not in record.getMessage()


logging.getLogger("dspy.clients.lm").addFilter(_QuietTruncation())

_START, _END = "<|im_start|>", "<|im_end|>"
ROLES = ("system", "user", "assistant")


def is_remote_spec(spec: str | None) -> bool:
    """True for a `provider/model` string that is not a local path.

    A spec is local when it exists on disk, ends in .gguf, starts like a path ("/", ".", "~") or its
    first component is an existing folder (a mistyped local path must not turn into an API call).
    """
    if not spec or "/" not in spec or spec.endswith(".gguf") or spec[0] in "/.~":
        return False
    provider = spec.split("/", 1)[0]
    if not provider or not provider.replace("_", "").replace("-", "").isalnum():
        return False
    return not Path(spec).expanduser().exists() and not Path(provider).is_dir()


def remote_name(model: str, api_base: str | None) -> str:
    """The cache identity: model string and the API base without credentials or query."""
    if not api_base:
        return model
    parts = urlsplit(api_base)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return f"{model}@{parts.scheme}://{host}{parts.path.rstrip('/')}" if parts.scheme else f"{model}@{api_base}"


def load_remote(spec: str | None, *, api_base: str | None = None, api_key: str | None = None,
                num_threads: int = 8, num_retries: int = 5, timeout: float | None = 120.0,
                **_ignored) -> "RemoteLM":
    """A RemoteLM for `spec`; the keyword arguments of `load_lm` meant for local models are ignored."""
    if spec is None or not is_remote_spec(spec):
        raise ConfigError(f"model {spec!r}: not a remote model; give a 'provider/model' string such as "
                          f"openai/gpt-4o-mini (with --api-base for an OpenAI-compatible server)")
    return RemoteLM(spec, api_base=api_base, api_key=api_key, num_threads=num_threads,
                    num_retries=num_retries, timeout=timeout)


@BACKENDS.register("remote")
class RemoteBackend:
    """`provider/model` strings (see is_remote_spec), served through dspy.LM."""

    claims = staticmethod(is_remote_spec)
    load = staticmethod(load_remote)


def to_chatml(messages: list[dict[str, str]]) -> str:
    body = "".join(f"{_START}{m['role']}\n{m['content']}{_END}\n" for m in messages)
    return body + f"{_START}assistant\n"


def from_chatml(text: str) -> list[dict[str, str]] | None:
    """Messages written by `to_chatml` (None when `text` is a plain prompt)."""
    if not text.startswith(_START) or not text.endswith(f"{_START}assistant\n"):
        return None
    messages = []
    for block in text[len(_START):-len(f"{_START}assistant\n")].split(_START):
        role, _, rest = block.partition("\n")
        if role not in ROLES or not rest.endswith(f"{_END}\n"):
            return None
        messages.append({"role": role, "content": rest[:-len(f"{_END}\n")]})
    return messages


class RemoteLM(LM):
    """A `dspy.LM` behind the LM interface; see the module docstring."""

    supports_loglikelihood = False  # so a caller can refuse a label task before it starts

    def __init__(self, model: str, *, api_base: str | None = None, api_key: str | None = None,
                 num_threads: int = 8, num_retries: int = 5, timeout: float | None = 120.0):
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-list download
        import dspy

        if api_base and api_key is None and not os.environ.get("OPENAI_API_KEY"):
            api_key = "EMPTY"  # local OpenAI-compatible servers take any key, but one must be sent
        extra = {k: v for k, v in (("api_base", api_base), ("api_key", api_key), ("timeout", timeout)) if v}
        self.model, self.api_base = model, api_base
        self.name = remote_name(model, api_base)
        self.num_threads = max(1, num_threads)
        self.num_retries = num_retries
        # Our evaluator caches results in the database; DSPy's own response cache would only
        # duplicate that on disk.
        self.client = dspy.LM(model, cache=False, num_retries=num_retries, **extra)
        self._usage = UsageCounter()
        self.load_info = {"source": model, "api_base": api_base}

    # ------------------------------------------------------------------ the LM interface

    @property
    def usage(self) -> dict[str, float]:
        """Totals since this object was made: calls, prompt and completion tokens, estimated USD
        cost (calls without a known price are counted in unpriced_calls), and seconds spent in
        calls (summed over threads, so it can exceed the wall time)."""
        return self._usage.snapshot()

    @property
    def max_length(self) -> int:
        return 1 << 20  # unknown here; the server rejects what is too long

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)  # a rough estimate: the tokenizer lives on the server

    def apply_chat_template(self, messages: list[dict[str, str]]) -> str:
        return to_chatml(messages)

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        raise UserError(f"model {self.model!r} is remote: label tasks are scored by log-likelihood, which "
                        f"a chat API does not give; use a local model (--model smollm2 or a checkpoint "
                        f"folder), or drop `labels` from the task to score by generation")

    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        jobs = [(r, k) for r in requests for k in range(r.num_return_sequences)]
        with ThreadPoolExecutor(max_workers=min(self.num_threads, max(1, len(jobs)))) as pool:
            answers = list(pool.map(lambda job: self._complete(*job), jobs))
        results, at = [], 0
        for r in requests:
            mine = answers[at:at + r.num_return_sequences]
            at += r.num_return_sequences
            logps = [lp for _, lp in mine if lp is not None]  # all or nothing: a server gives them or not
            results.append(GenerateResult([t for t, _ in mine], logps if len(logps) == len(mine) else []))
        return results

    # ------------------------------------------------------------------ one call

    def _complete(self, req: GenerateRequest, k: int) -> tuple[str, float | None]:
        from dspy.lm15 import Config, Message, Request

        messages = from_chatml(req.context) or [{"role": "user", "content": req.context}]
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system") or None
        turns = tuple(Message.assistant(m["content"]) if m["role"] == "assistant" else Message.user(m["content"])
                      for m in messages if m["role"] != "system")
        sampled = req.temperature > 0
        config = Config(max_tokens=req.max_new_tokens, temperature=req.temperature,
                        stop=tuple(s for s in req.stop if s)[:4], seed=req.seed + k if sampled else None)
        start = time.perf_counter()
        try:
            response = self.client(Request(model=self.model, messages=turns, system=system, config=config))
        except Exception as e:  # noqa: BLE001 - after DSPy's retries: tell the user, not a traceback
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
            where = f" at {self.api_base}" if self.api_base else ""
            raise UserError(f"model {self.model!r}{where}: request failed after {self.num_retries} retries "
                            f"({type(e).__name__}: {first}); check --api-base, the API key and the "
                            f"server") from None
        self._count(response, time.perf_counter() - start)
        text = response.text or ""
        for s in req.stop:  # servers may return the stop string or text past it
            if s and s in text:
                text = text[:text.index(s)]
        return text, _summed_logprob(response)

    def _count(self, response, seconds: float) -> None:
        usage = response.usage
        cost = _estimate_cost(response, self.model)
        self._usage.add(calls=1, prompt_tokens=usage.input_tokens or 0,
                        completion_tokens=usage.output_tokens or 0, seconds=seconds,
                        **({"unpriced_calls": 1} if cost is None else {"cost_usd": cost}))


def _estimate_cost(response, model: str) -> float | None:
    """USD from DSPy's price table; None for a model it has no price for (a local server's)."""
    try:
        from dspy.clients.costs import estimate_cost

        provider, _, name = model.partition("/")
        cost, _ = estimate_cost(response, provider=provider, requested_model=name)
        return cost
    except Exception:  # noqa: BLE001 - pricing is advisory; never fail a call over it
        return None


def _summed_logprob(response) -> float | None:
    tokens = getattr(response, "logprobs", None)
    if not tokens:
        return None
    try:
        return float(sum(t.logprob for t in tokens))
    except (AttributeError, TypeError):
        return None
