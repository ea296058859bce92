"""The task's metric object, with an LLM judge's model loaded when the task has one.

`metric_for(task, lm)` is how the evaluator gets its metric: a registered metric or a Python
file's function come from the data layer (data/metrics.py); a judge (data/judge.py) gets a
backend here, the layer that may load models:

  local judge   ("smollm2", a checkpoint folder, a .gguf file; or no `model`: the searched model
                judges) The question goes into the judge's chat template (plain text with an
                "Answer:" line when it has none) and P(Yes) = e^lp(Yes) / (e^lp(Yes) + e^lp(No)),
                from the log-likelihoods of both answers, asked for every question in one
                `loglikelihood` call (so the backend shares prompt prefixes and batches): a graded
                score in [0, 1].
  remote judge  (a dspy.LM string, with `api_base` for an OpenAI-compatible server) A chat API
                gives no log-likelihood of a given answer, so the judge answers in a few tokens:
                1.0 for an answer that starts with "yes", 0.0 otherwise.

Judge models come from the command's model loader (lm/loader.py): loaded once per command, and
a judge that names the task's own model is that model.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from promptsearch.config.task import JUDGE, TaskSpec
from promptsearch.data.judge import JudgeMetric
from promptsearch.data.metrics import Metric, resolve_metric
from promptsearch.errors import ConfigError, UserError
from promptsearch.lm.base import LM, GenerateRequest, LoglikelihoodRequest

log = logging.getLogger(__name__)


class LocalJudge:
    """P(Yes) from the log-likelihoods of "Yes" and "No" after the question."""

    def __init__(self, lm: LM):
        self.lm = lm
        self.fingerprint = lm.fingerprint

    def contexts(self, questions: Sequence[str]) -> list[tuple[str, str]]:
        """(context, answer prefix) per question: the chat layout when the model has one."""
        out = []
        for q in questions:
            try:
                out.append((self.lm.apply_chat_template([{"role": "user", "content": q}]), ""))
            except NotImplementedError:
                out.append((f"{q}\nAnswer:", " "))
        return out

    def yes_probabilities(self, questions: Sequence[str]) -> list[tuple[float, str]]:
        asked = self.contexts(questions)
        requests = [LoglikelihoodRequest(c, p + word) for c, p in asked for word in ("Yes", "No")]
        results = self.lm.loglikelihood(requests)  # one call: [yes_0, no_0, yes_1, no_1, ...]
        out = []
        for i in range(len(questions)):
            yes, no = results[2 * i].logprob, results[2 * i + 1].logprob
            p = 1.0 / (1.0 + math.exp(max(-700.0, min(700.0, no - yes))))  # softmax over the two
            out.append((p, f"log P(Yes) {yes:.2f}, log P(No) {no:.2f}"))
        return out


class RemoteJudge:
    """A remote model answers; its first word decides (1.0 for yes)."""

    def __init__(self, lm: LM):
        self.lm = lm
        self.fingerprint = lm.fingerprint

    def yes_probabilities(self, questions: Sequence[str]) -> list[tuple[float, str]]:
        chats = [self.lm.apply_chat_template([{"role": "user", "content": q}]) for q in questions]
        results = self.lm.generate([GenerateRequest(context=c, max_new_tokens=4, stop=("\n",)) for c in chats])
        out = []
        for r in results:
            text = r.texts[0].strip() if r.texts else ""
            yes = text.lower().lstrip("*\"' ").startswith("yes")
            out.append((1.0 if yes else 0.0, f"answered {text[:40]!r}"))
        return out


def judge_model(task: TaskSpec, lm: LM | None) -> LM:
    """The judge's model: the task's `judge.model` (from the command's loader: lm/loader.py), or
    `lm` itself."""
    spec = task.judge or {}
    model, api_base = spec.get("model"), spec.get("api_base")
    if not model:
        if lm is None:
            raise ValueError("a judge without its own model judges with the searched model; pass lm")
        return lm
    from promptsearch.lm import loader
    log.info("judge model %s", model)
    try:
        judge = loader.load(model, api_base=api_base)
        judge.check_generate()  # a remote judge that cannot answer: before the search is written
    except UserError as e:
        raise ConfigError(f"{task.source}: field 'metric.judge.model': {e}") from None
    return judge


def metric_for(task: TaskSpec, lm: LM | None = None) -> Metric:
    """The task's metric object; a judge's model is loaded (or `lm` judges, see judge_model)."""
    if task.metric != JUDGE:
        return resolve_metric(task)
    judge = judge_model(task, lm)
    # a remote judge answers yes/no: its server may give no prompt log-probs to rank them with
    local = getattr(judge, "supports_loglikelihood", True) and not getattr(judge, "remote", False)
    return JudgeMetric(task, LocalJudge(judge) if local else RemoteJudge(judge))
