"""Writing the best candidate out, in the format of the tool that uses it next.

text   the rendered prompt, exactly as scored (the answer follows its last character)
json   everything about the candidate: prompt, parts, score, parameters (also a --baseline file)
chat   an OpenAI-style messages list with a `{field}` template as the last message (chat.py)
jinja  a Jinja2 template whose variables are the task's input fields (jinja.py)
dspy   a state file for `dspy.Predict("<inputs> -> <output>").load("file.json")` (dspy_program.py)

Every format is an `Exporter`, a function (store, search, best entry) -> text, registered in
`EXPORTERS` under its `--format` name; adding one is a module with an `@EXPORTERS.register("name")`
function (a built-in one is also imported by export/__init__.py, which is how it registers).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from promptsearch.export.runnable import reproduction
from promptsearch.registry import Registry
from promptsearch.search.results import Entry, completed_trials
from promptsearch.storage.store import SearchRecord, Store

Exporter = Callable[[Store, SearchRecord, Entry], str]
EXPORTERS: Registry[Exporter] = Registry("export format")


def render_export(store: Store, record: SearchRecord, entry: Entry, fmt: str) -> str:
    """`entry` (a candidate of `record`) in the format registered as `fmt`."""
    return EXPORTERS.get(fmt, "--format")(store, record, entry)


@EXPORTERS.register("text")
def text_export(store: Store, record: SearchRecord, entry: Entry) -> str:
    return entry.candidate.prompt  # exactly as scored: the answer follows the last character


@EXPORTERS.register("json")
def json_export(store: Store, record: SearchRecord, entry: Entry) -> str:
    return json.dumps(export_record(store, record, entry), indent=2, ensure_ascii=False) + "\n"


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
        "label_scoring": record.settings.get("label_scoring", "sum") if record.task.get("labels") else None,
        "prompt_hash": c.prompt_hash,
        "model": record.model,
        "trials": len(completed_trials(store, record)),
        "params": c.params,
        **reproduction(record, entry),  # what `promptsearch run` needs (runnable.py)
    }


def _dev_examples(store: Store, record: SearchRecord, entry: Entry) -> int | None:
    for t in completed_trials(store, record):
        if t.number == entry.trial:
            return t.user_attrs.get("dev_examples")
    return None
