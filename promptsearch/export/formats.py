"""Writing the best candidate out: `text` (the rendered prompt) and `json` (everything about it)."""
from __future__ import annotations

import json
from typing import Any

from promptsearch.search.results import Entry, completed_trials
from promptsearch.storage.store import SearchRecord, Store

FORMATS = ("text", "json")


def export_record(store: Store, record: SearchRecord, entry: Entry) -> dict[str, Any]:
    c = entry.candidate
    return {
        "name": record.name,
        "score": entry.score,
        "metric": record.task["metric"],
        "split": "dev",
        "dev_examples": _dev_examples(store, record, entry),
        "trial": entry.trial,
        "instruction": c.instruction,
        "demos": c.demos,
        "cot_trigger": c.cot_trigger,
        "template": c.template,
        "prompt": c.prompt,
        "answer_prefix": c.answer_prefix,
        "inputs": record.task["inputs"],
        "output": record.task["output"],
        "labels": record.task.get("labels"),
        "prompt_hash": c.prompt_hash,
        "model": record.model,
        "trials": len(completed_trials(store, record)),
        "params": c.params,
    }


def _dev_examples(store: Store, record: SearchRecord, entry: Entry) -> int | None:
    for t in completed_trials(store, record):
        if t.number == entry.trial:
            return t.user_attrs.get("dev_examples")
    return None


def render_export(store: Store, record: SearchRecord, entry: Entry, fmt: str) -> str:
    if fmt == "text":
        return entry.candidate.prompt  # exactly as scored: the answer follows the last character
    return json.dumps(export_record(store, record, entry), indent=2, ensure_ascii=False) + "\n"
