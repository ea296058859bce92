"""Everything the report shows, read from the database (no model, no network)."""
from __future__ import annotations

import logging
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from statistics import mean
from typing import Any

import optuna
from optuna.trial import TrialState

from promptsearch.search import pareto
from promptsearch.search.format_scores import score_by_format
from promptsearch.search.params import NO_TRIGGER
from promptsearch.search.results import Entry, leaderboard, trial_counts, trial_feedback
from promptsearch.storage.store import SearchRecord, Store, trial_score

log = logging.getLogger(__name__)
MIN_TRIALS_FOR_IMPORTANCE = 4
# (parameter, section title): the dimensions every search has; other parameters (a future
# proposer's "strategy", say) get a section of their own.
KNOWN_DIMENSIONS = (("n_demos", "number of demonstrations"), ("cot_trigger", "CoT trigger"),
                    ("template", "layout"), ("demo_selection", "demonstration selection"),
                    ("instruction", "instruction"))
SKIPPED = {"demo_draw", "format_custom_names"}  # which random draw of demos: an index with no meaning across counts
MAX_VALUES = 30


@dataclass(frozen=True)
class TrialPoint:
    number: int
    state: str  # "complete" or "pruned"
    value: float  # the dev score, or the partial score when pruned
    prompt_hash: str | None
    examples: int | None = None  # dev examples it was scored on (a pruned or raced-out trial: fewer)


@dataclass(frozen=True)
class Group:
    value: str  # the parameter value, as shown
    mean: float
    best: float
    candidates: int


@dataclass(frozen=True, kw_only=True)
class Proposal:
    """An instruction a proposer suggested, where it came from, and how it did."""

    round: int
    method: str
    text: str
    accepted: bool
    reason: str | None  # why it was rejected
    pool_index: int | None  # its index in the instruction pool, when accepted
    parents: list[dict]  # [{"index": i, "text": ..., "score": ...}]
    best: float | None  # best dev score of a candidate using it
    candidates: int
    screen_score: float | None = None  # APE's screen (mean log-likelihood of train outputs), if screened

    @property
    def failures(self) -> list[str]:
        """Dev example ids a reflection was shown (stored with its parent)."""
        return [f for p in self.parents for f in p.get("failures", [])]


@dataclass(kw_only=True)
class ReportData:
    record: SearchRecord
    counts: dict[str, int]
    trials: list[TrialPoint]
    dimensions: list[tuple[str, list[Group]]]  # (title, groups) for parameters that varied
    fixed: dict[str, str]  # parameters with a single value in this search
    importances: dict[str, float] = field(default_factory=dict)
    importance_note: str | None = None
    top: list[Entry] = field(default_factory=list)
    verdict: dict[str, Any] | None = None
    proposals: list[Proposal] = field(default_factory=list)
    feedback: dict[int, list[dict]] = field(default_factory=dict)  # trial -> what its metric said
    probe: dict[str, Any] | None = None  # the latest demo-label probe (verdict/probe.py)
    formats: list[Any] = field(default_factory=list)  # search.format_scores.FormatScore rows
    pareto_trials: list[tuple[int, float, int]] = field(default_factory=list)  # (trial, score, tokens)
    front: list[Any] = field(default_factory=list)  # search.pareto.Point, shortest first
    evidence: dict[str, Any] | None = None  # verdict.dev.DevEvidence.to_dict(): the winner vs the first trial on dev
    failures: Any = None  # search.examples.TrialExamples of the best trial (report/failures.py), or None
    race: dict[str, Any] | None = None  # how the race went (search/racing.py summary): racing searches only

    @property
    def best_so_far(self) -> list[tuple[int, float]]:
        out, best = [], None
        for t in self.trials:
            if t.state == "complete" and (best is None or t.value > best):
                best = t.value
                out.append((t.number, best))
        return out


def collect(store: Store, record: SearchRecord, top: int = 10) -> ReportData:
    from promptsearch.report.failures import best_examples
    from promptsearch.search.racing import summary
    from promptsearch.verdict.dev import dev_evidence
    from promptsearch.verdict.store import load_probe, load_verdict

    study = store.load_study(record)
    trials = _trials(study)
    params = _candidate_params(store, record)
    dimensions, fixed = _dimensions(trials, params)
    importances, note = _importances(study)
    entries = leaderboard(store, record, top)
    feedback = {e.trial: trial_feedback(store, record, e.trial) for e in entries}
    return ReportData(record=record, counts=trial_counts(store, record), trials=trials, dimensions=dimensions,
                      fixed=fixed, importances=importances, importance_note=note, top=entries,
                      verdict=load_verdict(store, record),
                      proposals=_proposals(store, record, _by_instruction(trials, params)),
                      feedback={k: v for k, v in feedback.items() if v}, probe=load_probe(store, record),
                      formats=score_by_format(store, record), pareto_trials=pareto.trial_points(store, record),
                      front=pareto.front(store, record) if pareto.multi_objective(record) else [],
                      evidence=_evidence(dev_evidence(store, record)), failures=best_examples(store, record),
                      race=summary(study) if record.settings.get("race") else None)


def _evidence(found: Any) -> dict[str, Any] | None:
    return found.to_dict() if found is not None else None


def _trials(study: optuna.Study) -> list[TrialPoint]:
    out = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        if t.state == TrialState.COMPLETE:
            out.append(TrialPoint(t.number, "complete", trial_score(t), t.user_attrs.get("prompt_hash"),
                                  t.user_attrs.get("dev_examples")))
        elif "partial_score" in t.user_attrs:
            out.append(TrialPoint(t.number, "pruned", float(t.user_attrs["partial_score"]),
                                  t.user_attrs.get("prompt_hash"), t.user_attrs.get("partial_examples")))
    return sorted(out, key=lambda p: p.number)


def _candidate_params(store: Store, record: SearchRecord) -> dict[str, dict[str, Any]]:
    """Each candidate's full parameter set (Optuna's trial params omit the fixed dimensions)."""
    rows = store.candidates.of_search(record.id)
    # params["instruction"] is an index into the instruction pool: show the text instead
    return {r.prompt_hash: {**(r.params or {}), "instruction": r.instruction} for r in rows}


def _dimensions(trials: list[TrialPoint], params: dict[str, dict]) -> tuple[list, dict[str, str]]:
    """Score per value of each parameter, over distinct candidates (a repeated point counts once)."""
    scores = _distinct_scores(trials, params)
    by_dim: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for h, score in scores.items():
        for key, value in params[h].items():
            if key not in SKIPPED:
                by_dim[key][_shown(key, value)].append(score)
    order = [k for k, _ in KNOWN_DIMENSIONS] + sorted(k for k in by_dim if k not in dict(KNOWN_DIMENSIONS))
    titles = dict(KNOWN_DIMENSIONS)
    dimensions, fixed = [], {}
    for key in order:
        values = by_dim.get(key)
        if not values:
            continue
        if len(values) == 1:
            fixed[titles.get(key, key)] = next(iter(values))
            continue
        if len(values) > MAX_VALUES:
            continue
        groups = [Group(v, mean(s), max(s), len(s)) for v, s in values.items()]
        groups.sort(key=(lambda g: int(g.value)) if key == "n_demos" else (lambda g: -g.mean))
        dimensions.append((titles.get(key, key.replace("_", " ")), groups))
    return dimensions, fixed


def _distinct_scores(trials: list[TrialPoint], params: dict[str, dict]) -> dict[str, float]:
    """prompt hash -> dev score of its first completed trial."""
    scores: dict[str, float] = {}
    for t in trials:
        if t.state == "complete" and t.prompt_hash in params and t.prompt_hash not in scores:
            scores[t.prompt_hash] = t.value
    return scores


def _by_instruction(trials: list[TrialPoint], params: dict[str, dict]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for h, score in _distinct_scores(trials, params).items():
        out[params[h]["instruction"]].append(score)
    return out


def _proposals(store: Store, record: SearchRecord, scores: dict[str, list[float]]) -> list[Proposal]:
    """Proposed instructions with their parents, if the search had a proposer (else none)."""
    rows = store.proposals.all(record.id)
    return [Proposal(round=r.round, method=r.method, text=r.text, accepted=r.accepted, reason=r.reason,
                     pool_index=r.pool_index, parents=list(r.parents or []),
                     best=max(scores[r.text]) if scores.get(r.text) else None, candidates=len(scores.get(r.text, [])),
                     screen_score=r.screen_score)
            for r in rows]


def _shown(key: str, value: Any) -> str:
    if key == "cot_trigger" and value in (None, NO_TRIGGER):
        return "(no trigger)"
    if key == "instruction" and not str(value).strip():
        return "(no instruction)"
    return str(value)


def _importances(study: optuna.Study) -> tuple[dict[str, float], str | None]:
    """Optuna's fANOVA importances, or why there are none."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(done) < MIN_TRIALS_FOR_IMPORTANCE:
        return {}, (f"parameter importances need at least {MIN_TRIALS_FOR_IMPORTANCE} completed trials "
                    f"(this search has {len(done)})")
    if len({trial_score(t) for t in done}) < 2:
        return {}, "every completed trial has the same score: no parameter explains a difference"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
            found = optuna.importance.get_param_importances(study, evaluator=evaluator, target=trial_score)
    except Exception as e:
        log.info("parameter importances unavailable: %s", e)
        return {}, f"parameter importances unavailable: {e}"
    if not found:
        return {}, "no parameter was sampled in every completed trial, so none can be ranked"
    return dict(found), None
