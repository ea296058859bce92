"""Log-likelihood over the OpenAI-compatible completions API, as lm-evaluation-harness's
`local-completions` scores multiple choice.

Each request goes as one prompt, context + continuation, with

    {"prompt": [...], "echo": true, "logprobs": 1, "max_tokens": 0, "temperature": 0}

and the server answers, per prompt, every prompt token with its log-prob and character offset:

    tokens          ["Review", ":", " great", "\\n", "Label", ":", " positive"]
    token_logprobs  [null,     -3.1, -7.2,    ...                  -0.4]
    text_offset     [0,        6,    7,       ...                  26]
                                                          len(context) = 26 ─┘

The continuation's log-prob is the sum over exactly the tokens that end after len(context) and
start before the end of the prompt (a token straddling the boundary belongs to the continuation;
tokens the server generated after the prompt are ignored). As in lm-eval, trailing whitespace of
the context moves onto the continuation first, so " positive" stays one token. A token is greedy
when no alternative in `top_logprobs` beats it.

Servers differ: vLLM refuses `max_tokens: 0` (older versions) and is then asked with 1 (the
generated token is ignored); llama.cpp's llama-server returns no prompt log-probs at all, which
`probe` reports as a NoLogprobsError naming the server and what it returned.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from promptsearch.errors import NoLogprobsError, UserError
from promptsearch.lm.base import LoglikelihoodResult

PROMPTS_PER_CALL = 16  # prompts in one HTTP request; requests run `concurrency` at a time


def split_pair(context: str, continuation: str) -> tuple[str, str]:
    """lm-eval's rule: trailing whitespace of the context belongs to the continuation."""
    n = len(context) - len(context.rstrip())
    return (context[:-n], context[-n:] + continuation) if n else (context, continuation)


def payload(model: str, prompts: list[str], max_tokens: int) -> dict[str, Any]:
    return {"model": model, "prompt": prompts, "echo": True, "logprobs": 1, "max_tokens": max_tokens,
            "temperature": 0}


def refuses_zero_tokens(reason: str, status: int | None) -> bool:
    """A 400 that names max_tokens: a server that wants at least one token (vLLM)."""
    return status == 400 and "max_tokens" in reason


def results(answer: dict[str, Any], pairs: Sequence[tuple[str, str]], where: str) -> list[LoglikelihoodResult]:
    """One result per (context, continuation) pair from a completions answer for their prompts."""
    choices = answer.get("choices")
    if not isinstance(choices, list) or len(choices) != len(pairs):
        got = len(choices) if isinstance(choices, list) else "no"
        raise NoLogprobsError(f"{where}: asked to score {len(pairs)} prompts, the answer had {got} choices; "
                              f"the server does not answer the completions API as OpenAI's does")
    by_index = {c.get("index", i) if isinstance(c, dict) else i: c for i, c in enumerate(choices)}
    return [score(by_index.get(i), ctx, cont, where) for i, (ctx, cont) in enumerate(pairs)]


def score(choice: Any, context: str, continuation: str, where: str) -> LoglikelihoodResult:
    """Sum the continuation's token log-probs in one echoed choice (see the module docstring)."""
    lp = choice.get("logprobs") if isinstance(choice, dict) else None
    tokens, logps, offsets, tops = _fields(lp, where)
    start, end = len(context), len(context) + len(continuation)
    spans = [(off, off + len(tok)) for tok, off in zip(tokens, offsets)]
    if (start > 0 and not any(a < start for a, _ in spans)) or max(b for _, b in spans) < end:
        raise NoLogprobsError(f"{where}: returned log-probs for {len(tokens)} token(s) that do not cover the "
                              f"{end}-character prompt: it does not echo the prompt's log-probs (label "
                              f"tasks need /v1/completions with `echo: true` and `logprobs`)")
    mine = [k for k, (a, b) in enumerate(spans) if b > start and a < end]
    if not continuation:
        return LoglikelihoodResult(0.0, 0, True)
    if not mine or any(logps[k] is None for k in mine):
        raise UserError(f"{where}: no log-prob for the first token of a prompt; a label task needs a "
                        f"non-empty context before each label")
    greedy = all(_is_top(tops[k] if k < len(tops) else None, float(logps[k])) for k in mine)
    return LoglikelihoodResult(float(sum(logps[k] for k in mine)), len(mine), greedy)


def _fields(lp: Any, where: str) -> tuple[list[str], list, list[int], list]:
    """tokens, token_logprobs, text_offset, top_logprobs of a legacy `logprobs` object."""
    if not isinstance(lp, dict):
        raise NoLogprobsError(f"{where}: returned no prompt log-probs (`logprobs` is {_short(lp)}); label "
                              f"tasks need a server whose /v1/completions answers `echo: true` with "
                              f"`logprobs`, such as vLLM or promptsearch serve")
    tokens, logps, offsets = lp.get("tokens"), lp.get("token_logprobs"), lp.get("text_offset")
    if not (isinstance(tokens, list) and isinstance(logps, list) and isinstance(offsets, list)
            and len(tokens) == len(logps) == len(offsets) and tokens
            and all(isinstance(t, str) for t in tokens) and all(isinstance(o, int) for o in offsets)):
        keys = ", ".join(sorted(lp)) or "nothing"
        raise NoLogprobsError(f"{where}: returned `logprobs` with {keys}, not the tokens, token_logprobs "
                              f"and text_offset of every prompt token; label tasks need a server whose "
                              f"/v1/completions answers `echo: true` with `logprobs`, such as vLLM")
    tops = lp.get("top_logprobs")
    return tokens, logps, offsets, tops if isinstance(tops, list) else []


def _is_top(top: Any, logp: float) -> bool:
    if not isinstance(top, dict) or not top:
        return False  # unknown: not claimed greedy
    return all(not isinstance(v, (int, float)) or v <= logp + 1e-6 for v in top.values())


def _short(value: Any) -> str:
    text = "null" if value is None else repr(value)
    return text if len(text) <= 40 else text[:39] + "…"
