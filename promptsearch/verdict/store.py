"""Saving a verdict with its search, and reading the latest one back (for `report`)."""
from __future__ import annotations

from typing import Any

from promptsearch.storage.store import SearchRecord, Store
from promptsearch.verdict.heldout import Verdict


def store_verdict(store: Store, record: SearchRecord, verdict: Verdict, baseline: str) -> int:
    return store.verdicts.save(
        record.id, split=verdict.split, examples=verdict.examples, model=verdict.model,
        baseline=baseline, best_hash=verdict.best.prompt_hash, baseline_hash=verdict.baseline.prompt_hash,
        best_score=verdict.best.score.estimate, baseline_score=verdict.baseline.score.estimate,
        difference=verdict.difference.estimate, p_value=verdict.p_value, test=verdict.test,
        warning=verdict.warning, details=verdict.to_dict())


def load_verdict(store: Store, record: SearchRecord) -> dict[str, Any] | None:
    """The latest verdict's details (Verdict.to_dict() plus when it was made), or None."""
    row = store.verdicts.latest(record.id)
    if row is None:
        return None
    return {**row.details, "created": row.created.isoformat(timespec="seconds"), "id": row.id}


def store_probe(store: Store, record: SearchRecord, probe: Any) -> int:
    """A demo-label probe (verdict/probe.py) as a verdict row of kind 'probe': the original prompt
    as `best`, the shuffled-labels variant as `baseline` (the headline comparison), all in details."""
    shuffled = probe.variant("shuffled")
    return store.verdicts.save(
        record.id, kind="probe", split=probe.split, examples=probe.examples, model=probe.model,
        baseline="probe", best_hash=probe.original.prompt_hash, baseline_hash=shuffled.prompt_hash,
        best_score=probe.original.score.estimate, baseline_score=shuffled.score.estimate,
        difference=shuffled.delta.estimate, p_value=shuffled.p_value, test=probe.test,
        warning=None, details=probe.to_dict())


def load_probe(store: Store, record: SearchRecord) -> dict[str, Any] | None:
    """The latest probe's details (Probe.to_dict() plus when it was made), or None."""
    row = store.verdicts.latest(record.id, kind="probe")
    if row is None:
        return None
    return {**row.details, "created": row.created.isoformat(timespec="seconds"), "id": row.id}
