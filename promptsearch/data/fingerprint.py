"""Fingerprints of a task's files: the train, dev and test splits and a Python metric's file.

A search stores them when it is created (search/checks.py); `resume`, `worker` and `eval`
compare them with the files as they are now and refuse to mix scores of changed data with the
old ones. Task files are small next to model weights, so they are hashed in full every time.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from promptsearch.config.task import SPLITS, TaskSpec


def file_digest(path: str | Path) -> str:
    """'sha256:<hex>' of the file's bytes."""
    with open(path, "rb") as f:
        return "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()


def task_files(task: TaskSpec) -> dict[str, Path]:
    """The files a task's scores depend on, by role: train, dev, test and (if any) metric."""
    files = {split: task.split_path(split) for split in SPLITS}
    found = task.python_metric
    if found is not None:
        files["metric"] = found[0]
    return files


def task_fingerprints(task: TaskSpec) -> dict[str, str]:
    """role -> digest for every file of `task_files` (a missing file has the digest 'missing')."""
    out = {}
    for role, path in task_files(task).items():
        try:
            out[role] = file_digest(path)
        except FileNotFoundError:
            out[role] = "missing"
    return out
