"""Reading what an OpenAI-compatible server generated: the text (cut at the stop strings, which
servers may return or run past), its summed log-prob, and each generated token with its top
alternatives, from the completions API's `logprobs` ({tokens, token_logprobs, top_logprobs}) or
chat's `logprobs.content` ([{token, logprob, top_logprobs: [{token, logprob}]}]). Malformed or
missing log-probs give none, never an error: a server that has none is told apart by the caller.
"""
from __future__ import annotations

from typing import Any

from promptsearch.lm.base import GenerateRequest, TokenLogprob


def cut(text: str, stop: tuple[str, ...]) -> str:
    """Servers may return the stop string or text past it."""
    for s in stop:
        if s and s in text:
            text = text[:text.index(s)]
    return text


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _choice(answer: dict) -> dict:
    choices = _list(answer.get("choices"))
    return _dict(choices[0] if choices else None)


def completion_answer(answer: dict, req: GenerateRequest) -> tuple[str, float | None, list[TokenLogprob]]:
    """Text, summed log-prob and tokens of a /completions answer (`logprobs` in its shape)."""
    choice = _choice(answer)
    text = cut(str(choice.get("text") or ""), req.stop)
    lp = _dict(choice.get("logprobs"))
    names, values, tops = lp.get("tokens"), lp.get("token_logprobs"), lp.get("top_logprobs")
    if not (isinstance(names, list) and isinstance(values, list)):
        return text, None, []
    tops = tops if isinstance(tops, list) else [None] * len(names)
    tokens = [TokenLogprob(str(n), float(v), _numbers(t)) for n, v, t in zip(names, values, tops)
              if isinstance(v, (int, float))]
    return text, _summed(tokens, text), tokens


def chat_answer(answer: dict, req: GenerateRequest) -> tuple[str, float | None, list[TokenLogprob]]:
    """Text, summed log-prob and tokens of a /chat/completions answer (`logprobs.content`)."""
    choice = _choice(answer)
    text = cut(str(_dict(choice.get("message")).get("content") or ""), req.stop)
    tokens = []
    for t in _list(_dict(choice.get("logprobs")).get("content")):
        if isinstance(t, dict) and isinstance(t.get("logprob"), (int, float)):
            alts = {a.get("token"): a.get("logprob") for a in _list(t.get("top_logprobs")) if isinstance(a, dict)}
            tokens.append(TokenLogprob(str(t.get("token", "")), float(t["logprob"]), _numbers(alts)))
    return text, _summed(tokens, text) if tokens else None, tokens


def _numbers(top) -> dict[str, float]:
    if not isinstance(top, dict):
        return {}
    return {str(k): float(v) for k, v in top.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _summed(tokens: list[TokenLogprob], text: str) -> float:
    """Log-prob of the tokens that lie wholly inside the returned (stop-cut) text."""
    total, at = 0.0, 0
    for t in tokens:
        at += len(t.token)
        if at > len(text):
            break
        total += t.logprob
    return total
