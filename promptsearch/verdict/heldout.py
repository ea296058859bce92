"""The held-out verdict: the search's best prompt against a baseline on a split the search never saw.

Both prompts are scored on the same examples through the evaluator (the database is its cache, so
a repeated verdict costs no model calls), then compared with paired statistics (stats.py). The
dev-to-test gap of the winner is the overfitting check: the dev score it was picked on is the
maximum over many candidates, so it is biased upwards, and a test score well below it says so.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import load_split
from promptsearch.errors import ConfigError, NotFoundError, UserError
from promptsearch.evaluate.evaluator import Evaluator
from promptsearch.lm.base import LM
from promptsearch.render.prompt import Prompt, PromptTemplate, slot
from promptsearch.search.rebuild import rebuild_prompt
from promptsearch.search.results import best, completed_trials, first_trial
from promptsearch.search.runner import decoding_for, open_parts
from promptsearch.storage.store import SearchRecord, Store, trial_score
from promptsearch.strategies import DIRECT
from promptsearch.verdict import stats

log = logging.getLogger(__name__)
SPLITS = ("test", "dev")
ALPHA = 0.05


@dataclass(kw_only=True)
class Arm:
    """One side of the comparison."""

    source: str  # "trial 7", "first trial (0)" or the baseline file
    prompt_hash: str
    prompt: str  # with {field} placeholders
    dev_score: float | None  # what the search measured (None: not a candidate of this search)
    score: stats.Interval = field(default_factory=lambda: stats.Interval(0.0, 0.0, 0.0))
    scores: list[float] = field(default_factory=list)  # per example, in example order

    @property
    def gap(self) -> float | None:
        """Dev score minus held-out score: positive when the prompt did worse on new data."""
        return None if self.dev_score is None else self.dev_score - self.score.estimate


@dataclass(kw_only=True)
class Verdict:
    search: str
    split: str
    model: str
    metric: str
    example_ids: list[str]
    best: Arm
    baseline: Arm
    difference: stats.Interval  # best minus baseline
    test: str
    p_value: float
    resamples: int
    seed: int

    @property
    def examples(self) -> int:
        return len(self.example_ids)

    @property
    def same_prompt(self) -> bool:
        return self.best.prompt_hash == self.baseline.prompt_hash

    @property
    def warning(self) -> str | None:
        """An overfitting warning when the winner's dev score lies above its held-out interval."""
        b = self.best
        if b.dev_score is None or b.dev_score <= b.score.high:
            return None
        return (f"overfitting: the best prompt scored {b.dev_score:.3f} on dev but {b.score.estimate:.3f} "
                f"on {self.split} (95% CI {b.score.low:.3f}-{b.score.high:.3f}); its dev score was the "
                f"maximum over many candidates and does not hold on new data")

    @property
    def conclusion(self) -> str:
        if self.same_prompt:
            return "the baseline is the best prompt itself: nothing to compare"
        d, p = self.difference, self.p_value
        if p < ALPHA and d.estimate > 0:
            return f"the best prompt beats the baseline on {self.split} (+{d.estimate:.3f}, p={p:.3g})"
        if p < ALPHA and d.estimate < 0:
            return (f"the baseline does better on {self.split} ({d.estimate:+.3f}, p={p:.3g}): "
                    f"do not ship the search's pick")
        return (f"no significant difference on {self.split} ({d.estimate:+.3f}, p={p:.3g}); "
                f"{self.examples} examples may be too few to tell")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(examples=self.examples, same_prompt=self.same_prompt, warning=self.warning,
                 conclusion=self.conclusion, best_gap=self.best.gap, baseline_gap=self.baseline.gap)
        return d


def run_verdict(store: Store, record: SearchRecord, lm: LM, *, split: str = "test",
                baseline: str = "first", limit: int | None = None, seed: int = 0,
                resamples: int = stats.RESAMPLES) -> Verdict:
    """Score the best prompt and the baseline ("first" or a prompt JSON file) on `split`."""
    if split not in SPLITS:
        raise ConfigError(f"--split: '{split}' is not allowed; use one of {', '.join(SPLITS)}")
    task, _, settings = open_parts(record)
    dev_scores = {t.user_attrs.get("prompt_hash"): trial_score(t) for t in completed_trials(store, record)}
    top = best(store, record)
    best_arm, best_t = _arm_from_row(store, record, lm, top.candidate, f"trial {top.trial}", top.score)
    base_arm, base_t = _baseline(store, record, lm, task, baseline, dev_scores)
    examples = load_split(task, split, limit)
    evaluator = Evaluator(lm, task, store.evaluations, decoding_for(settings))
    # Intervals and tests of the metric's own aggregate (None: the mean, on a faster path).
    statistic = None if evaluator.metric.aggregates_by_mean else evaluator.metric.aggregate
    for arm, template in ((best_arm, best_t), (base_arm, base_t)):
        ev = evaluator.evaluate(template, examples)
        arm.scores = [r.score for r in ev.results]
        arm.score = stats.resampled_interval(arm.scores, resamples, seed, statistic=statistic)
        log.info("%s: %s %.4f on %d %s examples (%d computed)", arm.source, task.metric,
                 ev.score, len(examples), split, ev.computed)
    test_name, p = stats.paired_test(best_arm.scores, base_arm.scores, seed, statistic=statistic,
                                     resamples=resamples)
    diff = stats.paired_resampled_interval(best_arm.scores, base_arm.scores, resamples, seed, statistic=statistic)
    return Verdict(search=record.name, split=split, model=lm.name, metric=task.metric,
                   example_ids=[e.id for e in examples], best=best_arm, baseline=base_arm, difference=diff,
                   test=test_name, p_value=p, resamples=resamples, seed=seed)


def _arm_from_row(store: Store, record: SearchRecord, lm: LM, row, source: str,
                  dev_score: float | None) -> tuple[Arm, Prompt]:
    # Rebuilt exactly as scored (strategy and per-input nearest demos included), hash-checked.
    template = rebuild_prompt(record, row, lm=lm, store=store)
    return Arm(source=source, prompt_hash=template.hash, prompt=row.prompt, dev_score=dev_score), template


def _baseline(store: Store, record: SearchRecord, lm: LM, task: TaskSpec, baseline: str,
              dev_scores: dict) -> tuple[Arm, Prompt]:
    if baseline == "first":
        first = first_trial(store, record)
        if first is None:
            raise UserError(f"search '{record.name}' has no completed trial to use as the baseline")
        return _arm_from_row(store, record, lm, first.candidate, f"first trial ({first.trial})", first.score)
    template = load_baseline_file(baseline, task)
    return Arm(source=str(baseline), prompt_hash=template.hash, prompt=template.with_placeholders(),
               dev_score=dev_scores.get(template.hash)), template


def load_baseline_file(path: str | Path, task: TaskSpec) -> PromptTemplate:
    """A prompt JSON (`promptsearch export --format json` writes one): "prompt" with {field}
    placeholders, and "answer_prefix" (what goes before an answer; default " ")."""
    p = Path(path)
    where = f"--baseline {p}"
    if not p.is_file():
        raise NotFoundError(f"{where}: no such file; give 'first' or a prompt JSON file "
                            f"(e.g. from `promptsearch export NAME --format json`)")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{where}: not a JSON file ({e}); give a prompt JSON as "
                          f"`promptsearch export NAME --format json` writes") from None
    if not isinstance(data, dict) or not isinstance(data.get("prompt"), str) or not data["prompt"].strip():
        raise ConfigError(f"{where}: field 'prompt' is missing or not a string; give a prompt JSON "
                          f"as `promptsearch export NAME --format json` writes")
    prefix = data.get("answer_prefix", " ")
    if not isinstance(prefix, str):
        raise ConfigError(f"{where}: field 'answer_prefix' must be a string, e.g. \" \"")
    text = data["prompt"]
    missing = [name for name in task.inputs if "{" + name + "}" not in text]
    if missing:
        raise ConfigError(f"{where}: field 'prompt' has no {{{missing[0]}}} placeholder; the task's "
                          f"inputs are {', '.join('{' + n + '}' for n in task.inputs)}")
    for name in task.inputs:
        text = text.replace("{" + name + "}", slot(name))
    return PromptTemplate(text, prefix, task.inputs, DIRECT)
