"""RemoteLM: the LM interface over a hosted API or an OpenAI-compatible server.

A spec like "openai/gpt-4o-mini", "ollama_chat/llama3" or "openai/smollm2" with an api_base names a
remote model (see `is_remote_spec`). What works remotely:

  generate       with an OpenAI-compatible server (`api_base` or OPENAI_API_BASE), each request is
                 one HTTP call (http.py retries): a plain prompt goes as raw text to
                 /v1/completions, so the model sees exactly the text that was scored and exported;
                 a server without it (404: chat-only APIs) gets it as one user message instead
                 (`plain_as_chat` then says so, and a warning is logged once). A chat-layout
                 prompt goes as real messages to /v1/chat/completions. `top_logprobs` asks for
                 the generated tokens' alternatives (`logprobs: k` on completions, `logprobs:
                 true, top_logprobs: k` on chat). Without a server URL (a hosted provider), each
                 request is one chat completion through `dspy.LM` (any provider DSPy knows), with
                 DSPy's retries and price table, and no token log-probs.
  loglikelihood  POST /v1/completions with `echo: true, logprobs: 1, max_tokens: 0` (completions.py,
                 as lm-evaluation-harness's local-completions): servers that return prompt log-probs
                 (vLLM, promptsearch serve) score label tasks; others are refused by
                 `check_loglikelihood` before a search starts. Retries on 429/5xx honour Retry-After
                 (http.py).
  chat layout    `apply_chat_template` writes the messages as ChatML text ("<|im_start|>role ...");
                 `generate` parses it back and sends the real messages, so the server applies its
                 own chat template. A plain-layout prompt is sent as one user message.

At most `concurrency` requests are in flight at once (one semaphore for the model, shared by every
thread that calls it). A call that still fails after its retries raises ModelCallError: the trial
fails and the search goes on. Tokens, estimated cost and seconds are counted on `self.usage`.

Results are cached by the evaluator under `name`, which includes the API base: two servers may
serve different weights under the same model name. The API base is checked (http or https only),
shown masked and given back its credentials by lm/urls.py.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from promptsearch.errors import ConfigError, ModelCallError, NoLogprobsError, UserError
from promptsearch.lm import completions
from promptsearch.lm.answers import chat_answer, completion_answer, cut
from promptsearch.lm.backends import BACKENDS
from promptsearch.lm.base import (
    LM,
    GenerateRequest,
    GenerateResult,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    TokenLogprob,
)
from promptsearch.lm.http import CallFailed, RetryPolicy, post_json
from promptsearch.lm.urls import check_api_base, masked_url, redact, resolve_api_base, with_auth
from promptsearch.lm.usage import UsageCounter

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
    return f"{model}@{shown_url(api_base)}" if api_base else model


def shown_url(url: str) -> str:
    """`url` without credentials, query or trailing slash: safe in names and messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return f"{parts.scheme}://{host}{parts.path.rstrip('/')}" if parts.scheme else url


DEFAULT_CONCURRENCY = 8


def load_remote(spec: str | None, *, api_base: str | None = None, api_key: str | None = None,
                concurrency: int | None = None, num_retries: int = 5, timeout: float | None = 120.0,
                **_ignored) -> RemoteLM:
    """A RemoteLM for `spec`; the keyword arguments of `load_lm` meant for local models are ignored."""
    if spec is None or not is_remote_spec(spec):
        raise ConfigError(f"model {spec!r}: not a remote model; give a 'provider/model' string such as "
                          f"openai/gpt-4o-mini (with --api-base for an OpenAI-compatible server)")
    return RemoteLM(spec, api_base=api_base, api_key=api_key, concurrency=concurrency or DEFAULT_CONCURRENCY,
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
    """A `dspy.LM` (generation) and the completions API (log-likelihood) behind the LM interface;
    see the module docstring."""

    remote = True  # a judge on a remote model asks for a verdict instead of ranking Yes/No

    def __init__(self, model: str, *, api_base: str | None = None, api_key: str | None = None,
                 concurrency: int = DEFAULT_CONCURRENCY, num_retries: int = 5, timeout: float | None = 120.0):
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-list download
        import dspy

        if api_base is not None:  # a stored URL without its credentials gets them back, or stops here
            api_base = check_api_base(resolve_api_base(api_base, f"model {model!r}"))
        if api_base and api_key is None and not os.environ.get("OPENAI_API_KEY"):
            api_key = "EMPTY"  # local OpenAI-compatible servers take any key, but one must be sent
        extra = {k: v for k, v in (("api_base", api_base), ("api_key", api_key), ("timeout", timeout)) if v}
        self.model, self.api_base = model, api_base
        self.name = remote_name(model, api_base)
        self.concurrency = max(1, concurrency)
        self.num_retries = num_retries
        self.timeout = timeout
        # Our evaluator caches results in the database; DSPy's own response cache would only
        # duplicate that on disk.
        self.client = dspy.LM(model, cache=False, num_retries=num_retries, **extra)
        self._slots = threading.BoundedSemaphore(self.concurrency)  # requests in flight, all threads
        self._key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self._echo_tokens = 0  # max_tokens of a scoring request; 1 for servers that refuse 0 (vLLM)
        # plain prompts go as one user message: through DSPy (chat only), or to a server found to
        # have no /v1/completions (see the module docstring and `probe_plain`)
        self.plain_as_chat = not (api_base or os.environ.get("OPENAI_API_BASE"))
        self._usage = UsageCounter()
        self.load_info = {"source": model, "api_base": masked_url(api_base) if api_base else None}

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

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        """Prompts in chunks of at most PROMPTS_PER_CALL, `concurrency` chunks in flight."""
        pairs = [completions.split_pair(r.context, r.continuation) for r in requests]
        if not pairs:
            return []
        size = min(completions.PROMPTS_PER_CALL, -(-len(pairs) // self.concurrency))
        chunks = [pairs[i:i + size] for i in range(0, len(pairs), size)]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(chunks))) as pool:
            return [r for part in pool.map(self._score, chunks) for r in part]

    def check_loglikelihood(self) -> None:
        """One tiny scoring request: a server without prompt log-probs is refused here, before a
        label search writes anything."""
        self._score([("The capital of France is", " Paris")], probing=True)

    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        jobs = [(r, k) for r in requests for k in range(r.num_return_sequences)]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, max(1, len(jobs)))) as pool:
            answers = list(pool.map(lambda job: self._complete(*job), jobs))
        results, at = [], 0
        for r in requests:
            mine = answers[at:at + r.num_return_sequences]
            at += r.num_return_sequences
            logps = [lp for _, lp, _ in mine if lp is not None]  # all or nothing: a server gives them or not
            results.append(GenerateResult([t for t, _, _ in mine], logps if len(logps) == len(mine) else [],
                                          mine[0][2] if mine else []))
        return results

    def apply_chat_template(self, messages: list[dict[str, str]]) -> str:
        return to_chatml(messages)

    def probe_plain(self) -> bool:
        """Whether a plain prompt reaches the model as raw text: one one-token generation, which
        finds out whether the server has /v1/completions (sets `plain_as_chat`)."""
        if not self.plain_as_chat:
            self._complete(GenerateRequest(context="The capital of France is", max_new_tokens=1, stop=()), 0)
        return not self.plain_as_chat

    # ------------------------------------------------------------------ one call

    def _complete(self, req: GenerateRequest, k: int) -> tuple[str, float | None, list[TokenLogprob]]:
        base = self.api_base or os.environ.get("OPENAI_API_BASE")
        if base:
            return self._complete_http(base.rstrip("/"), req, k)
        text, logprob = self._complete_dspy(req, k)
        return text, logprob, []

    def _complete_http(self, base: str, req: GenerateRequest, k: int) -> tuple[str, float | None, list[TokenLogprob]]:
        """One generation over the OpenAI-compatible HTTP API (see the module docstring)."""
        messages = from_chatml(req.context)
        sampled = req.temperature > 0
        body: dict = {"model": self._model_id(), "max_tokens": req.max_new_tokens, "temperature": req.temperature,
                      "stop": [s for s in req.stop if s][:4] or None, **({"seed": req.seed + k} if sampled else {})}
        if messages is None and not self.plain_as_chat:
            url = base + "/completions"
            extra = {"logprobs": req.top_logprobs} if req.top_logprobs else {}
            try:
                answer = self._timed_post(url, {**body, "prompt": req.context, **extra})
                return completion_answer(answer, req)
            except CallFailed as e:
                if e.status not in (404, 405):
                    raise self._failed(e, url) from None
                self.plain_as_chat = True
                log.warning("%s: no /completions endpoint; plain prompts are sent as one user message",
                            self._where(url))
        url = base + "/chat/completions"
        extra = {"logprobs": True, "top_logprobs": req.top_logprobs} if req.top_logprobs else {}
        try:
            answer = self._timed_post(url, {**body, "messages": messages or [{"role": "user", "content": req.context}],
                                            **extra})
        except CallFailed as e:
            raise self._failed(e, url) from None
        return chat_answer(answer, req)

    def _timed_post(self, url: str, body: dict) -> dict:
        start = time.perf_counter()
        answer = self._post(url, {k: v for k, v in body.items() if v is not None})
        usage = answer.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        self._count(_int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens")),
                    time.perf_counter() - start, None)
        return answer

    def _complete_dspy(self, req: GenerateRequest, k: int) -> tuple[str, float | None]:
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
            with self._slots:
                response = self.client(Request(model=self.model, messages=turns, system=system, config=config))
        except Exception as e:
            first = redact((str(e).strip().splitlines() or [type(e).__name__])[0], self.api_base)[:300]
            raise ModelCallError(f"{self._where()}: request failed after {self.num_retries} retries "
                                 f"({type(e).__name__}: {first}); check --api-base, the API key and the "
                                 f"server") from None
        usage = response.usage
        self._count(usage.input_tokens or 0, usage.output_tokens or 0, time.perf_counter() - start,
                    _estimate_cost(response, self.model))
        return cut(response.text or "", req.stop), _summed_logprob(response)

    def _score(self, pairs: list[tuple[str, str]], probing: bool = False) -> list[LoglikelihoodResult]:
        """One completions request scoring `pairs` (context, continuation); see completions.py.
        `probing`: a request the server refuses (4xx) means it cannot score (NoLogprobsError)."""
        url = self._completions_url()
        prompts = [c + x for c, x in pairs]
        start = time.perf_counter()
        try:
            answer = self._post(url, completions.payload(self._model_id(), prompts, self._echo_tokens))
        except CallFailed as e:
            if self._echo_tokens or not completions.refuses_zero_tokens(e.reason, e.status):
                if probing and e.status is not None and 400 <= e.status < 500 and e.status != 429:
                    why = redact(e.reason, url)
                    raise NoLogprobsError(f"{self._where(url)}: refused a scoring request ({why}); label "
                                          f"tasks need /v1/completions with `echo: true` and `logprobs` (vLLM, "
                                          f"promptsearch serve)") from None
                raise self._failed(e, url) from None
            self._echo_tokens = 1  # vLLM wants a token to generate; completions.score ignores it
            return self._score(pairs, probing)
        usage = answer.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        self._count(_int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens")),
                    time.perf_counter() - start, None)
        return completions.results(answer, pairs, self._where(url))

    def _post(self, url: str, body: dict, retries: int | None = None) -> dict:
        url, headers = with_auth(url, self._key)
        with self._slots:
            return post_json(url, body, headers=headers, timeout=self.timeout,
                             policy=RetryPolicy(retries=self.num_retries if retries is None else retries))

    def check_generate(self) -> None:
        """One tiny chat request (one retry): a remote model that cannot answer is refused here,
        before a search writes anything, instead of failing its first trials."""
        client, self.client = self.client, self.client.copy(num_retries=1)
        retries, self.num_retries = self.num_retries, 1
        try:
            self._complete(GenerateRequest(context="Answer with one word: ready?", max_new_tokens=1, stop=()), 0)
        finally:
            self.client, self.num_retries = client, retries

    def _completions_url(self) -> str:
        base = self.api_base or os.environ.get("OPENAI_API_BASE") or (
            "https://api.openai.com/v1" if self.model.startswith("openai/") else None)
        if base is None:
            raise UserError(f"model {self.model!r}: label tasks are scored through an OpenAI-compatible "
                            f"/v1/completions endpoint with prompt log-probs; give --api-base (a vLLM or "
                            f"promptsearch serve URL), or drop `labels` from the task to score by generation")
        return base.rstrip("/") + "/completions"

    def _model_id(self) -> str:
        """The name the server knows: 'openai/smollm2' -> 'smollm2' (the provider is DSPy's)."""
        return self.model.split("/", 1)[1]

    def _where(self, url: str | None = None) -> str:
        where = url or self.api_base
        return f"model {self.model!r}" + (f" at {shown_url(where)}" if where else "")

    def _failed(self, e: CallFailed, url: str) -> ModelCallError:
        reason = redact(e.reason, self.api_base)
        return ModelCallError(f"{self._where(url)}: request failed after {e.attempts - 1} retries ({reason}); "
                              f"check --api-base, the API key and the server")

    def _count(self, prompt_tokens: int, completion_tokens: int, seconds: float, cost: float | None) -> None:
        self._usage.add(calls=1, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, seconds=seconds,
                        **({"unpriced_calls": 1} if cost is None else {"cost_usd": cost}))


def _estimate_cost(response, model: str) -> float | None:
    """USD from DSPy's price table; None for a model it has no price for (a local server's)."""
    try:
        from dspy.clients.costs import estimate_cost

        provider, _, name = model.partition("/")
        cost, _ = estimate_cost(response, provider=provider, requested_model=name)
        return cost
    except Exception:
        return None


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _summed_logprob(response) -> float | None:
    tokens = getattr(response, "logprobs", None)
    if not tokens:
        return None
    try:
        return float(sum(t.logprob for t in tokens))
    except (AttributeError, TypeError):
        return None

