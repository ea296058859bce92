"""`promptsearch check`: a CI gate for a prompt file. It scores the exported prompt (and a baseline
prompt) on a split of a task, through the evaluator -- each prompt with the strategy and decoding
it was searched with (export/runnable.py) -- and fails when the score is below a floor or
significantly worse than the baseline by the paired test `eval` uses (stats.py). The result reads
as Markdown (a pull-request comment) and as JUnit XML (CI test reports).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from typing import Any

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import load_split
from promptsearch.errors import ConfigError
from promptsearch.evaluate.evaluator import Evaluator
from promptsearch.export.runnable import RunnablePrompt
from promptsearch.lm.base import LM
from promptsearch.search.runner import decoding_for
from promptsearch.verdict import stats


@dataclass
class Scored:
    source: str  # the prompt file
    prompt_hash: str
    score: stats.Interval
    scores: list[float] = field(default_factory=list)  # per example, in split order


@dataclass(kw_only=True)
class CheckResult:
    task: str
    split: str
    metric: str
    model: str
    examples: int
    prompt: Scored
    baseline: Scored | None
    min_score: float | None
    alpha: float
    difference: stats.Interval | None = None  # prompt - baseline
    test: str | None = None
    p_value: float | None = None

    @property
    def failures(self) -> list[str]:
        out = []
        if self.min_score is not None and self.prompt.score.estimate < self.min_score:
            out.append(f"score {self.prompt.score.estimate:.4f} is below --min-score {self.min_score:g}")
        if self.worse:
            assert self.difference is not None and self.p_value is not None
            out.append(f"significantly worse than the baseline: {self.difference.estimate:+.4f}, "
                       f"{self.test} p = {self.p_value:.3g} < {self.alpha:g}")
        return out

    @property
    def worse(self) -> bool:
        return (self.p_value is not None and self.difference is not None and self.p_value < self.alpha
                and self.difference.estimate < 0)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failures": self.failures, "passed": self.passed}

    def markdown(self) -> str:
        s = self.prompt.score
        lines = [f"### promptsearch check: {'passed' if self.passed else 'FAILED'}", "",
                 f"Task `{self.task}`, {self.examples} {self.split} examples, metric {self.metric}, "
                 f"model `{self.model}`.", "",
                 "| prompt | score | 95% CI |", "|---|---|---|",
                 f"| {_cell(self.prompt.source)} | {s.estimate:.4f} | {s.low:.4f} – {s.high:.4f} |"]
        if self.baseline is not None:
            b = self.baseline.score
            lines.append(f"| {_cell(self.baseline.source)} (baseline) | {b.estimate:.4f} | "
                         f"{b.low:.4f} – {b.high:.4f} |")
        lines.append("")
        if self.difference is not None:
            d = self.difference
            lines.append(f"Difference (prompt − baseline): {d.estimate:+.4f} [{d.low:+.4f}, {d.high:+.4f}], "
                         f"{self.test} p = {self.p_value:.3g} (alpha {self.alpha:g}).")
        if self.min_score is not None:
            lines.append(f"Minimum score: {self.min_score:g}.")
        lines += [f"- **failed**: {f}" for f in self.failures] or ["All checks passed."]
        return "\n".join(lines) + "\n"

    def junit(self) -> str:
        suite = ET.Element("testsuite", name="promptsearch check", tests="0", failures=str(len(self.failures)))
        cases: list[tuple[str, str | None]] = [(f"score of {self.prompt.source} on {self.split}", None)]
        if self.min_score is not None:
            cases = [(f"{self.prompt.source} scores at least {self.min_score:g} on {self.split}",
                      self.failures[0] if self.prompt.score.estimate < self.min_score else None)]
        if self.baseline is not None:
            cases.append((f"{self.prompt.source} is not significantly worse than {self.baseline.source}",
                          self.failures[-1] if self.worse else None))
        for name, failure in cases:
            case = ET.SubElement(suite, "testcase", classname=f"promptsearch.check.{self.task}", name=name)
            if failure is not None:
                ET.SubElement(case, "failure", message=failure).text = self.markdown()
        suite.set("tests", str(len(cases)))
        ET.SubElement(suite, "system-out").text = self.markdown()
        return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def check_compatible(prompt: RunnablePrompt, task: TaskSpec, where: str) -> None:
    """The prompt was searched for a task with the same inputs, output and labels (one line if not)."""
    mine = prompt.task
    for what, a, b in (("inputs", mine.inputs, task.inputs), ("output", mine.output, task.output),
                       ("labels", mine.labels, task.labels)):
        if a != b:
            raise ConfigError(f"{where}: made for task '{mine.name}', whose {what} is {_show(a)}, not {_show(b)} "
                              f"as in {task.source or task.name}; give a prompt made for this task")


def _show(value: Any) -> str:
    return ", ".join(value) if isinstance(value, tuple) else str(value)


def run_check(task: TaskSpec, prompt: tuple[str, RunnablePrompt], baseline: tuple[str, RunnablePrompt] | None,
              lm: LM, model: str, *, split: str = "test", limit: int | None = None, min_score: float | None = None,
              alpha: float = 0.05, seed: int = 0, same_model: tuple[bool, bool] = (True, True)) -> CheckResult:
    """Score the prompt (and the baseline) on `split` of `task` with `lm`, and compare."""
    examples = load_split(task, split, limit)
    arms = []
    for (source, p), same in zip([prompt, *([baseline] if baseline else [])], same_model):
        evaluator = Evaluator(lm, task, None, decoding_for(p.settings))
        statistic = None if evaluator.metric.aggregates_by_mean else evaluator.metric.aggregate
        rendered = p.prompt_for(lm, same)
        scores = [r.score for r in evaluator.evaluate(rendered, examples).results]
        interval = stats.resampled_interval(scores, seed=seed, statistic=statistic)
        arms.append(Scored(source, rendered.hash, interval, scores))
    result = CheckResult(task=task.name, split=split, metric=task.metric, model=model, examples=len(examples),
                         prompt=arms[0], baseline=arms[1] if baseline else None, min_score=min_score, alpha=alpha)
    if baseline is not None:
        a, b = arms[0].scores, arms[1].scores
        result.test, result.p_value = stats.paired_test(a, b, seed, statistic=statistic)
        result.difference = stats.paired_resampled_interval(a, b, seed=seed, statistic=statistic)
    return result
