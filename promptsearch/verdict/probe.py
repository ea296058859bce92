"""The demo-label probe: do the best prompt's demonstrations teach the model the input-label
mapping, or only the format?

Min et al. (2022, "Rethinking the Role of Demonstrations") found that replacing the labels of
in-context demonstrations with random ones barely hurts many models: the demos teach the label
space, the input distribution and the format, not the mapping; larger models are hurt more.
For a search's winner this says what its demos are worth. The probe scores the best prompt on
dev or test as it is and in three variants, everything else unchanged:

  shuffled  the demos' labels permuted among the demos (the label distribution is kept; of 100
            seeded permutations, the one that leaves the fewest demos with their own label)
  random    each demo's label drawn at random: from the task's labels, or for a generation task
            from the outputs of other train examples
  none      no demonstrations at all

Each variant's score minus the original's gets a 95% paired resampled interval (stats.py, the
same as `eval`), and the reading follows from which intervals lie below zero: wrong labels
hurt -> the demos teach the mapping; only removing them hurts -> they teach the format; nothing
moves -> no measurable effect (or too few examples). Scores go through the evaluator, so its
cache makes a repeated probe free. The result is stored with the search as a verdict of kind
'probe' (verdicts table), shown by `show` and in the report.
"""
from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example, load_split
from promptsearch.errors import ConfigError, UserError
from promptsearch.evaluate.evaluator import Evaluator
from promptsearch.lm.base import LM
from promptsearch.render.prompt import Candidate
from promptsearch.search.rebuild import per_input_demos, rebuild_prompt, stored_candidate
from promptsearch.search.results import best
from promptsearch.search.runner import decoding_for, open_parts, render_candidate
from promptsearch.storage.store import SearchRecord, Store
from promptsearch.verdict import stats

log = logging.getLogger(__name__)
SPLITS = ("dev", "test")
KIND = "probe"  # its `kind` in the verdicts table
VARIANTS = ("shuffled", "random", "none")
PERMUTATION_TRIES = 100


@dataclass(kw_only=True)
class Variant:
    name: str  # "original" or one of VARIANTS
    prompt_hash: str
    labels: list[str]  # the demos' labels as shown (empty for none)
    kept: int  # demos still showing their own label
    score: stats.Interval
    difference: stats.Interval | None = None  # this minus the original (None for the original)
    p_value: float | None = None
    scores: list[float] = field(default_factory=list)

    @property
    def delta(self) -> stats.Interval:
        """This minus the original (a variant's; the original has none)."""
        if self.difference is None:
            raise ValueError("the original prompt has no difference from itself")
        return self.difference

    @property
    def hurts(self) -> bool:
        return self.difference is not None and self.difference.high < 0

    @property
    def helps(self) -> bool:
        return self.difference is not None and self.difference.low > 0


@dataclass(kw_only=True)
class Probe:
    search: str
    trial: int
    split: str
    model: str
    metric: str
    demos: int
    example_ids: list[str]
    original: Variant
    variants: list[Variant]
    test: str
    resamples: int
    seed: int

    @property
    def examples(self) -> int:
        return len(self.example_ids)

    def variant(self, name: str) -> Variant:
        return next(v for v in self.variants if v.name == name)

    @property
    def finding(self) -> str:
        """mapping | format | harmful | none (see `reading`)."""
        if self.variant("shuffled").hurts or self.variant("random").hurts:
            return "mapping"
        if self.variant("none").hurts:
            return "format"
        if self.variant("none").helps:
            return "harmful"
        return "none"

    @property
    def reading(self) -> str:
        """One line: what the demos teach this model, from the intervals."""
        wrong = min((self.variant("shuffled"), self.variant("random")), key=lambda v: v.delta.estimate)
        d = self.variant("none").delta
        if self.finding == "mapping":
            w = wrong.delta
            return (f"the demos teach this model the mapping: {wrong.name} labels cost "
                    f"{-w.estimate:.3f} (95% CI {w.low:+.3f} to {w.high:+.3f})")
        if self.finding == "format":
            return (f"the demos teach only the format: wrong labels do not hurt measurably, but no demos cost "
                    f"{-d.estimate:.3f} (95% CI {d.low:+.3f} to {d.high:+.3f})")
        if self.finding == "harmful":
            return (f"the demos hurt this model: without them it scores {d.estimate:+.3f} "
                    f"(95% CI {d.low:+.3f} to {d.high:+.3f})")
        return (f"no measurable effect of the demos or their labels on {self.examples} {self.split} examples "
                f"(every interval includes 0); more examples may tell")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(examples=self.examples, finding=self.finding, reading=self.reading)
        return d


def run_probe(store: Store, record: SearchRecord, lm: LM, *, split: str = "dev", limit: int | None = None,
              seed: int = 0, resamples: int = stats.RESAMPLES) -> Probe:
    """Score the best prompt and its three demo variants on `split` (see the module docstring)."""
    if split not in SPLITS:
        raise ConfigError(f"--split: '{split}' is not allowed; use one of {', '.join(SPLITS)}")
    task, _, settings = open_parts(record)
    top = best(store, record)
    row = top.candidate
    check_probeable(record, top.trial, row)
    original = stored_candidate(row)
    template = rebuild_prompt(record, row, lm=lm, store=store)
    examples = load_split(task, split, limit)
    evaluator = Evaluator(lm, task, store.evaluations, decoding_for(settings))
    metric = evaluator.metric
    assert metric is not None  # the Evaluator sets it
    statistic = None if metric.aggregates_by_mean else metric.aggregate
    rng = random.Random(f"probe:{seed}")
    base = _score(evaluator, "original", template, _labels(original, task), len(original.demos), examples,
                  resamples, seed, statistic)
    variants = []
    for name in VARIANTS:
        candidate = _variant(name, original, task, rng)
        prompt = render_candidate(candidate, task, lm)
        kept = sum(_label(a, task) == _label(b, task) for a, b in zip(candidate.demos, original.demos))
        v = _score(evaluator, name, prompt, _labels(candidate, task), kept, examples, resamples, seed, statistic)
        v.difference = stats.paired_resampled_interval(v.scores, base.scores, resamples, seed, statistic=statistic)
        test, v.p_value = stats.paired_test(v.scores, base.scores, seed, statistic=statistic, resamples=resamples)
        variants.append(v)
    return Probe(search=record.name, trial=top.trial, split=split, model=lm.name, metric=task.metric,
                 demos=len(original.demos), example_ids=[e.id for e in examples], original=base, variants=variants,
                 test=test, resamples=resamples, seed=seed)


def check_probeable(record: SearchRecord, trial: int, row) -> None:
    """The best prompt must show a fixed set of demonstrations (one-line UserError otherwise)."""
    if per_input_demos(row):
        raise UserError(f"search '{record.name}': the best prompt (trial {trial}) picks its demonstrations per "
                        f"input (nearest neighbours); the probe needs a fixed set of demonstrations")
    if not row.demos:
        raise UserError(f"search '{record.name}': the best prompt (trial {trial}) has no demonstrations, so "
                        f"there are no labels to probe")


def _score(evaluator: Evaluator, name: str, prompt, labels: list[str], kept: int, examples: list[Example],
           resamples: int, seed: int, statistic) -> Variant:
    ev = evaluator.evaluate(prompt, examples)
    scores = [r.score for r in ev.results]
    log.info("probe %s: %.4f on %d examples (%d computed)", name, ev.score, len(examples), ev.computed)
    interval = stats.resampled_interval(scores, resamples, seed, statistic=statistic)
    return Variant(name=name, prompt_hash=prompt.hash, labels=labels, kept=kept, score=interval, scores=scores)


def _label(example: Example, task: TaskSpec) -> str:
    return example[task.output]


def _labels(candidate: Candidate, task: TaskSpec) -> list[str]:
    return [_label(d, task) for d in candidate.demos]


def _relabel(example: Example, task: TaskSpec, label: str) -> Example:
    return Example(example.id, {**example.fields, task.output: label})


def _variant(name: str, original: Candidate, task: TaskSpec, rng: random.Random) -> Candidate:
    demos = list(original.demos)
    if name == "none":
        return replace(original, demos=())
    labels = [_label(d, task) for d in demos]
    if name == "shuffled":
        new = _least_fixed_permutation(labels, rng)
    else:
        pool = list(task.labels) if task.labels else _other_outputs(task, demos)
        new = [rng.choice(pool) for _ in labels]
    return replace(original, demos=tuple(_relabel(d, task, lab) for d, lab in zip(demos, new)))


def _least_fixed_permutation(labels: list[str], rng: random.Random) -> list[str]:
    """Of PERMUTATION_TRIES seeded shuffles, the first that leaves the fewest labels in place."""
    best_order, best_fixed = list(labels), len(labels) + 1
    for _ in range(PERMUTATION_TRIES):
        order = list(labels)
        rng.shuffle(order)
        fixed = sum(a == b for a, b in zip(order, labels))
        if fixed < best_fixed:
            best_order, best_fixed = order, fixed
        if fixed == 0:
            break
    return best_order


def _other_outputs(task: TaskSpec, demos: list[Example]) -> list[str]:
    """Outputs of train examples that are not among the demos (all of them if that leaves none)."""
    shown = {d.id for d in demos}
    outputs = [e[task.output] for e in load_split(task, "train") if e.id not in shown]
    return outputs or [_label(d, task) for d in demos]
