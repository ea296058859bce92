"""`promptsearch check`: every input checked (prompt files, task, split, flags, the JUnit path)
before the model loads; then verdict/check.py scores and compares."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from promptsearch.config.limits import check_int
from promptsearch.data.dataset import load_split
from promptsearch.errors import ConfigError
from promptsearch.export.runnable import load_prompt
from promptsearch.lm.base import LM
from promptsearch.service import models
from promptsearch.service.files import check_output, write_output
from promptsearch.service.hooks import QUIET, Hooks
from promptsearch.service.searches import as_task

SPLITS = ("test", "dev", "train")


@models.in_command
def check_prompt(prompt: str | Path, task: Any, *, split: str = "test", min_score: float | None = None,
                 baseline: str | Path | None = None, alpha: float = 0.05, junit: str | Path | None = None,
                 limit: int | None = None, model: str | None = None, lm: LM | None = None,
                 hooks: Hooks = QUIET):
    """A CheckResult (`.passed`, `.failures`, `.markdown()`, `.junit()`); the JUnit XML is also
    written to `junit` if given."""
    from promptsearch.verdict.check import check_compatible, run_check

    spec_task = as_task(task)
    if split not in SPLITS:
        raise ConfigError(f"--split: '{split}' is not allowed; use one of {', '.join(SPLITS)}")
    if limit is not None:
        check_int("--limit", limit, "limit")
    _fraction("--alpha", alpha, low_open=True)
    if min_score is not None:
        _fraction("--min-score", min_score)
    found = load_prompt(prompt)
    check_compatible(found, spec_task, str(prompt))
    other = load_prompt(baseline, "--baseline") if baseline is not None else None
    if other is not None:
        check_compatible(other, spec_task, f"--baseline {baseline}")
    load_split(spec_task, split, limit)  # a missing field or file: one line, before the model loads
    target = check_output(junit, overwrite=True, flag="--junit") if junit is not None else None
    spec = found.model if model is None else models.stored_spec(model)
    with models.command_models() as loader:  # a judge naming `spec` is this model
        if lm is None:
            s = found.data["model_spec"]
            with hooks.status(f"loading model {spec} …"):
                lm = loader.task(spec, device=s.get("device"), dtype=s.get("dtype"),
                                 batch_size=s.get("batch_size") or 32,
                                 api_base=s.get("api_base") if spec == found.model else None)
        else:
            loader.task(spec, lm)
    models.check_model(spec_task, lm, spec)
    with hooks.status(f"scoring on {split} …"):
        result = run_check(spec_task, (str(prompt), found), (str(baseline), other) if other is not None else None,
                           lm, spec, split=split, limit=limit, min_score=min_score, alpha=alpha,
                           same_model=(spec == found.model, other is None or spec == other.model))
    if target is not None:
        write_output(target, result.junit(), "--junit")
    return result


def _fraction(flag: str, value: Any, low_open: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (0 < value < 1 if low_open else 0 <= value <= 1):
        allowed = "above 0 and below 1" if low_open else "from 0 to 1"
        raise ConfigError(f"{flag} must be a number {allowed}, got {value!r}")
    return float(value)
