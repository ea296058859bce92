"""A trial's per-example dev results, mapped back from the evaluation cache to the task's examples.

The evaluator stores every scored example in `ps_evaluations`, keyed by the model's fingerprint,
the prompt hash, the decoding key and the example's content hash. A trial records its prompt hash,
and the search its task and settings, so its dev examples are known (loaded as the search loaded
them) and their rows can be found without loading the model: the decoding key is rebuilt from the
stored settings and strategy up to the metric's identity (which may need a judge's model), and of
the (model, decoding) groups that hold every dev example the one whose scores are the trial's
stored dev scores is taken. A candidate that picks its demonstrations per input is scored under a
different prompt hash per example, which only its model can recompute: refused with one line.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from optuna.trial import FrozenTrial, TrialState

from promptsearch.config.task import JUDGE, TaskSpec
from promptsearch.data.dataset import Example, load_split
from promptsearch.data.metrics import resolve_metric
from promptsearch.errors import UserError
from promptsearch.evaluate.evaluator import decoding_key
from promptsearch.search.checks import check_unchanged
from promptsearch.search.devscores import dev_scores
from promptsearch.search.rebuild import per_input_demos
from promptsearch.search.results import best
from promptsearch.search.runner import decoding_for, dev_order, open_parts
from promptsearch.search.sampling import PRUNERS, fidelity
from promptsearch.search.selection import split_dev
from promptsearch.storage.models import EvaluationRow
from promptsearch.storage.store import SearchRecord, Store, trial_score
from promptsearch.strategies import strategy_from_params

OTHER = "(other)"  # a prediction that is none of the labels, in a confusion matrix


@dataclass(frozen=True, kw_only=True)
class ExampleOutcome:
    """One dev example as a trial scored it."""

    position: int  # 1-based, in the dev file
    example_id: str
    inputs: dict[str, str]
    expected: tuple[str, ...]  # every acceptable answer (the first is what prompts show)
    prediction: str
    score: float
    feedback: str | None

    @property
    def lost(self) -> bool:
        return self.score < 1.0


@dataclass(kw_only=True)
class TrialExamples:
    search: str
    trial: int
    score: float  # the trial's dev score
    metric: str
    labels: tuple[str, ...] | None
    outcomes: list[ExampleOutcome]  # every dev example, in dev-file order
    shown: list[ExampleOutcome] = field(default_factory=list)  # what was asked for (select())

    def confusion(self) -> dict[str, dict[str, int]] | None:
        """Label tasks: counts by expected label (rows) and predicted label (columns, OTHER for
        a prediction that is no label); None for other tasks."""
        if self.labels is None:
            return None
        columns = [*self.labels, OTHER]
        table = {label: dict.fromkeys(columns, 0) for label in self.labels}
        for o in self.outcomes:
            predicted = o.prediction if o.prediction in self.labels else OTHER
            table[o.expected[0]][predicted] += 1
        if not any(row[OTHER] for row in table.values()):
            for row in table.values():
                del row[OTHER]
        return table

    def to_dict(self) -> dict[str, Any]:
        return {"search": self.search, "trial": self.trial, "score": self.score, "metric": self.metric,
                "labels": list(self.labels) if self.labels is not None else None,
                "dev_examples": len(self.outcomes), "examples": [outcome_dict(o) for o in self.shown],
                "confusion": self.confusion()}


def outcome_dict(o: ExampleOutcome) -> dict[str, Any]:
    d = asdict(o)
    d["expected"] = list(o.expected)
    return d


def select(outcomes: Sequence[ExampleOutcome], wrong: bool = False, limit: int | None = None,
           worst_first: bool = False) -> list[ExampleOutcome]:
    """The outcomes to show: lost points only (`wrong`), lowest score first (`worst_first`,
    stable in dev order), at most `limit`."""
    out = [o for o in outcomes if o.lost] if wrong else list(outcomes)
    if worst_first:
        out.sort(key=lambda o: o.score)
    return out[:limit] if limit else out


def complete_trial(store: Store, record: SearchRecord, number: int | None, flag: str = "--trial") -> FrozenTrial:
    """Trial `number` (None: the best), refused with one line unless it completed."""
    if number is None:
        number = best(store, record).trial
    trials = store.load_study(record).get_trials(deepcopy=False)
    found = next((t for t in trials if t.number == number), None)
    if found is None:
        span = f"0 to {len(trials) - 1}" if trials else "none yet"
        raise UserError(f"{flag} {number}: search '{record.name}' has no trial {number} (its trials: {span})")
    if found.state != TrialState.COMPLETE:
        state = {TrialState.FAIL: "failed", TrialState.RUNNING: "still running"}.get(found.state,
                                                                                    found.state.name.lower())
        raise UserError(f"{flag} {number}: trial {number} of search '{record.name}' is {state}, "
                        f"so it has no complete dev results; pick a complete trial (`promptsearch show "
                        f"{record.name}` lists them)")
    return found


def scored_dev(record: SearchRecord) -> tuple[TaskSpec, list[Example], list[Example]]:
    """(task, dev examples in file order, the same in the order the trials scored them); without
    the examples a selection split held out of the search."""
    task, _, settings = open_parts(record)
    dev, _ = split_dev(load_split(task, "dev", settings.dev_limit), settings.select_fraction, settings.seed)
    run = fidelity(PRUNERS.get(settings.pruner, "pruner")(settings.chunk_size), settings.chunk_size)
    return task, dev, dev_order(dev, settings.seed, run, settings.race)


def trial_examples(store: Store, record: SearchRecord, number: int | None = None,
                   flag: str = "--trial") -> TrialExamples:
    """Every dev example of trial `number` (None: the best) with its stored prediction and score."""
    trial = complete_trial(store, record, number, flag)
    check_unchanged(record)  # changed dev data: say so, rather than "not in the database"
    task, dev, order = scored_dev(record)
    results = _stored(store, record, trial, task, order)
    outcomes = [ExampleOutcome(position=i, example_id=e.id, inputs={k: e[k] for k in task.inputs},
                               expected=e.answers(task.output), prediction=results[e.id].prediction,
                               score=results[e.id].score, feedback=results[e.id].feedback)
                for i, e in enumerate(dev, start=1)]
    return TrialExamples(search=record.name, trial=trial.number, score=trial_score(trial), metric=task.metric,
                         labels=task.labels, outcomes=outcomes, shown=list(outcomes))


def _stored(store: Store, record: SearchRecord, trial: FrozenTrial, task: TaskSpec,
            order: list[Example]) -> dict[str, Any]:
    """The trial's rows of the evaluation cache, by example id (see the module docstring)."""
    prompt_hash = trial.user_attrs.get("prompt_hash", "")
    row = store.candidates.get(record.id, prompt_hash)
    if row is None:
        raise UserError(f"trial {trial.number} of search '{record.name}' has no stored candidate")
    if per_input_demos(row):
        raise UserError(f"trial {trial.number} of search '{record.name}' picks its demonstrations per input "
                        f"(nearest neighbours), so its per-example results are stored under one prompt per "
                        f"example; `promptsearch eval {record.name} --split dev` re-scores it")
    _, _, settings = open_parts(record)
    strategy = strategy_from_params(dict(row.params or {}))
    prefix = decoding_key(decoding_for(settings), task, strategy, "\x00").split("\x00")[0]
    ids = [e.id for e in order]
    query = sa.select(EvaluationRow).where(EvaluationRow.prompt_hash == prompt_hash,
                                           EvaluationRow.example_id.in_(ids),
                                           EvaluationRow.decoding.startswith(prefix, autoescape=True))
    rows = store.db.read(lambda s: list(s.scalars(query)))
    groups: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
    for r in rows:
        groups[(r.model, r.decoding)][r.example_id] = r
    full = [(key, found) for key, found in groups.items() if len(found) == len(set(ids))]
    if not full:
        raise UserError(f"trial {trial.number} of search '{record.name}': its per-example dev results are not in "
                        f"the database (scored before they were kept, or removed)")
    wanted, identity = dev_scores(trial), _metric_identity(task)

    def rank(item: tuple[tuple[str, str], dict[str, Any]]) -> tuple[bool, bool, Any]:
        (_, decoding), found = item
        same = wanted is not None and [round(found[i].score, 6) for i in ids] == [round(w, 6) for w in wanted]
        return (same, identity is not None and decoding == prefix + identity,
                max(r.created for r in found.values()))
    return max(full, key=rank)[1]


def _metric_identity(task: TaskSpec) -> str | None:
    """The metric's cache identity, when it needs no model (a judge's does); None if unknown."""
    if task.metric == JUDGE:
        return None
    try:
        return resolve_metric(task).identity
    except (UserError, OSError):
        return None
