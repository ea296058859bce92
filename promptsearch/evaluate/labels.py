"""How a label task's answer is read from a model: the label scoring modes (after
lm-evaluation-harness, which picks `loglikelihood` or `generate_until` per task, and classifiers
built on hosted APIs, which read the first token's top log-probabilities).

  loglikelihood  log P(label | prompt) for every label, the best wins (summed token log-probs, or
                 their mean with `mean`); needs prompt log-probs (a local model; vLLM or
                 `promptsearch serve` over /v1/completions with echo). strategies/steps.rank.
  first-token    one greedy token with its `top_logprobs` most likely alternatives; a label's
                 probability is the summed probability of the listed tokens that begin it; needs
                 top log-probs of generated tokens (OpenAI's chat API, llama-server). Labels whose
                 first tokens collide cannot be told apart and are refused.
  generate       a greedy answer of a few tokens, mapped to a label: exactly, then ignoring case
                 and surrounding whitespace and punctuation, then the one label it begins with.
                 Anything else is wrong and "unparsed" (counted per trial). Works on any model.

The LM interface stays narrow: these modes are built here from `loglikelihood` and `generate`
requests (GenerateRequest.top_logprobs), never inside a backend. `auto` probes the model once and
takes the first mode it supports, in the order above (`resolve`).

What a search stores in its settings' `label_scoring`: sum, mean (the two log-likelihood
variants, as before), first-token or generate. `loglikelihood` on the command line means sum.
"""
from __future__ import annotations

import logging
import math
import string
from collections.abc import Sequence
from dataclasses import dataclass

from promptsearch.errors import ModelCallError, UserError
from promptsearch.lm.base import LM, GenerateRequest, GenerateResult
from promptsearch.strategies.base import Ranked

log = logging.getLogger(__name__)

MODES = ("loglikelihood", "first-token", "generate")  # auto tries them in this order
LABEL_SCORINGS = ("auto", "loglikelihood", "sum", "mean", "first-token", "generate")  # --label-scoring
STORED = {"loglikelihood": "sum", "sum": "sum", "mean": "mean", "first-token": "first-token", "generate": "generate"}
TOP_LOGPROBS = 20  # alternatives asked for under first-token (OpenAI's maximum)
ANSWER_TOKENS = 8  # the greedy answer under generate: a label, perhaps with a word around it
_PROBE = "The capital of France is"
_STRIP = string.whitespace + string.punctuation


def mode_of(label_scoring: str) -> str:
    """The mode a stored or given --label-scoring value stands for (sum/mean: loglikelihood)."""
    return "loglikelihood" if label_scoring in ("sum", "mean", "loglikelihood") else label_scoring


def describe(label_scoring: str) -> str:
    """For `show` and the report: 'loglikelihood (sum)', 'first-token', ..."""
    mode = mode_of(label_scoring)
    return f"{mode} ({STORED[label_scoring]})" if mode == "loglikelihood" else label_scoring


# ----------------------------------------------------------------------------- scoring

@dataclass(frozen=True)
class LabelScorer:
    """Ranks the labels after each context in one mode; strategies call it through their Decoding
    (strategies/steps.rank). Returns (label or the unparsed answer, its log-prob, every label's
    score or None) per context: first-token scores each label by the log of its first-token mass;
    generate has no scores."""

    mode: str

    def __call__(self, lm: LM, labels: Sequence[str], contexts: Sequence[str],
                 prefixes: Sequence[str]) -> list[Ranked]:
        # as a generation task asks (strategies/direct.py): after "Label:", its space left to the answer
        pairs = [(c + p.rstrip(), p[len(p.rstrip()):]) for c, p in zip(contexts, prefixes)]
        if self.mode == "first-token":
            requests = [GenerateRequest(context=c, max_new_tokens=1, stop=(), top_logprobs=TOP_LOGPROBS)
                        for c, _ in pairs]
            return [first_token_label(r, labels, space) for r, (_, space) in zip(lm.generate(requests), pairs)]
        if self.mode == "generate":
            requests = [GenerateRequest(context=c, max_new_tokens=ANSWER_TOKENS, stop=("\n",)) for c, _ in pairs]
            return [(parse_label(r.texts[0], labels) or r.texts[0], r.logprobs[0] if r.logprobs else 0.0, None)
                    for r in lm.generate(requests)]
        raise ValueError(f"label scoring mode {self.mode!r} is not one LabelScorer runs")


def first_token_label(result: GenerateResult, labels: Sequence[str], space: str) -> Ranked:
    """The label whose beginning tokens have the most probability among the first token's
    alternatives, with every label's log mass (-inf where none is listed); with none listed for
    any label, the token generated (unparsed) and no scores."""
    top = result.tokens[0].top if result.tokens else {}
    scores = []
    for label in labels:
        mass = [lp for token, lp in top.items() if begins(token, space + label)]
        scores.append(math.log(sum(math.exp(v) for v in mass)) if mass else -math.inf)
    if any(s > -math.inf for s in scores):
        j = max(range(len(labels)), key=scores.__getitem__)
        return labels[j], scores[j], tuple(scores)
    return (result.tokens[0].token if result.tokens else result.texts[0]), 0.0, None


def begins(token: str, text: str) -> bool:
    """Whether `token` could be the first token of `text`: its non-space part starts `text`'s."""
    head = token.lstrip()
    return bool(head) and text.lstrip().startswith(head)


def parse_label(answer: str, labels: Sequence[str]) -> str | None:
    """The label `answer` names: exactly, then ignoring case and surrounding whitespace and
    punctuation, then the one label it begins with; None when none (or several) fit."""
    if answer in labels:
        return answer
    norm = answer.strip(_STRIP).lower()
    same = [label for label in labels if label.strip(_STRIP).lower() == norm]
    if len(same) == 1:
        return same[0]
    starts = [label for label in labels if label.strip(_STRIP) and norm.startswith(label.strip(_STRIP).lower())]
    longest = max((len(s) for s in starts), default=0)
    starts = [s for s in starts if len(s) == longest]  # "very good" over "very" when both begin it
    return starts[0] if len(starts) == 1 else None


def unparsed(prediction: str, labels: Sequence[str]) -> bool:
    return prediction not in labels


# ----------------------------------------------------------------------------- what a model supports

def first_token_collisions(lm: LM, labels: Sequence[str]) -> str | None:
    """A one-line reason when two labels share their first token, else None. With the model's
    tokenizer (local models) the first token ids are compared in the plain (" label") and chat
    ("label") positions; a remote tokenizer is unknown, so labels sharing their first word, or one
    a prefix of another, are refused."""
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            # after a space (plain layout) and at the start of a word (the chat answer; a context
            # ending in a newline would give the newline as everyone's first token)
            for context, prefix in (("Answer:", " "), ("Answer:", "")):
                ia, ib = lm.continuation_ids(context, prefix + a), lm.continuation_ids(context, prefix + b)
                if ia is None or ib is None:
                    wa, wb = a.split()[:1], b.split()[:1]
                    if wa == wb or a.startswith(b) or b.startswith(a):
                        return f"labels '{a}' and '{b}' may begin with the same token"
                    break
                if ia[:1] == ib[:1]:
                    return f"labels '{a}' and '{b}' share their first token {ia[:1]}"
    return None


def _top_logprobs_reason(lm: LM) -> str | None:
    """None when the model returns top log-probs of a generated token, else why not."""
    out = lm.generate([GenerateRequest(context=_PROBE, max_new_tokens=1, stop=(), top_logprobs=TOP_LOGPROBS)])
    if out and out[0].tokens and out[0].tokens[0].top:
        return None
    return "it returns no top log-probabilities of generated tokens"


def check_mode(lm: LM, labels: Sequence[str], label_scoring: str, model: str) -> None:
    """Raise a one-line UserError when `model` cannot serve this (explicit, not auto) mode."""
    mode = mode_of(label_scoring)
    if mode == "loglikelihood":
        lm.check_loglikelihood()
    elif mode == "first-token":
        why = first_token_collisions(lm, labels) or _top_logprobs_reason(lm)
        if why:
            raise UserError(f"--label-scoring first-token: model {model}: {why}; use --label-scoring generate "
                            f"(or auto)")


def resolve(lm: LM, labels: Sequence[str]) -> tuple[str, str]:
    """`auto`: (the stored label_scoring, why) for the first mode the model supports; one probe per
    mode tried, before anything is written. Failed calls (ModelCallError) are raised, not skipped."""
    try:
        lm.check_loglikelihood()
        return "sum", "the model returns prompt log-probabilities"
    except ModelCallError:
        raise
    except UserError as e:
        no_ll = f"no prompt log-probabilities ({_first(str(e))})"
    collision = first_token_collisions(lm, labels)
    if collision:
        return "generate", f"{no_ll}, and {collision} (first-token cannot tell them apart)"
    why = _top_logprobs_reason(lm)
    if why is None:
        return "first-token", f"{no_ll}; the model returns top log-probabilities of a generated token"
    return "generate", f"{no_ll}, and {why}"


def _first(message: str, width: int = 160) -> str:
    return message if len(message) <= width else message[:width - 1] + "…"
