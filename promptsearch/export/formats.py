"""Writing the best candidate out, in the format of the tool that uses it next.

text   the rendered prompt, exactly as scored (the answer follows its last character)
json   everything about the candidate: prompt, parts, score, parameters (also a --baseline file)
chat   an OpenAI-style messages list with a `{field}` template as the last message
jinja  a Jinja2 template whose variables are the task's input fields
dspy   a state file for `dspy.Predict("<inputs> -> <output>").load("file.json")`
"""
from __future__ import annotations

import json
from typing import Any

from promptsearch.search.results import Entry, completed_trials
from promptsearch.storage.store import SearchRecord, Store

FORMATS = ("text", "json", "chat", "jinja", "dspy")


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
    if fmt == "json":
        return json.dumps(export_record(store, record, entry), indent=2, ensure_ascii=False) + "\n"
    if fmt == "chat":
        from promptsearch.export.chat import chat_export
        return chat_export(record, entry.candidate)
    if fmt == "jinja":
        from promptsearch.export.jinja import jinja_export
        return jinja_export(record, entry)
    if fmt == "dspy":
        from promptsearch.export.dspy_program import dspy_export
        return dspy_export(record, entry.candidate)
    raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
