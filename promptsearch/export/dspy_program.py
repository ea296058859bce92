"""`dspy`: a state file that `dspy.Predict("<inputs> -> <output>").load(path)` reads (save it as .json).

The file is what DSPy itself writes for a Predict module: the signature's instructions and field
prefixes and descriptions, and the demonstrations. It is built by DSPy (imported only here) so it
always matches the installed version's format. DSPy lays out its own prompt (field headers and its
adapter's wording), so what carries over is the instruction and the demonstrations, not the exact
text; a CoT trigger, which DSPy has no slot for, is appended to the instructions. A searched
format (render/format.py) carries over as the field prefixes: the names and the separator.
"""
from __future__ import annotations

import json

from promptsearch.config.task import TaskSpec
from promptsearch.export.formats import EXPORTERS
from promptsearch.export.source import check_identifiers, task_of
from promptsearch.render.format import PromptFormat
from promptsearch.render.prompt import expand_instruction
from promptsearch.search.results import Entry
from promptsearch.storage.models import CandidateRow
from promptsearch.storage.store import SearchRecord, Store


def signature_string(task: TaskSpec) -> str:
    return f"{', '.join(task.inputs)} -> {task.output}"


def dspy_instructions(task: TaskSpec, row: CandidateRow) -> str | None:
    """What the signature's instructions are set to (None: DSPy's default for the signature)."""
    parts = [p for p in (expand_instruction(row.instruction, task).strip(), row.cot_trigger) if p]
    return "\n\n".join(parts) or None


@EXPORTERS.register("dspy")
def dspy_export(store: Store, record: SearchRecord, entry: Entry) -> str:
    import dspy
    from dspy.utils.saving import get_dependency_versions

    row = entry.candidate
    task = task_of(record)
    check_identifiers(task, "dspy")
    signature = dspy.Signature(signature_string(task), dspy_instructions(task, row))
    fmt = PromptFormat.from_params(row.params or {})
    for name in (*task.inputs, task.output):  # the same field labels as the searched prompt
        label = fmt.field_label(name, task.inputs, task.output)
        signature.fields[name].json_schema_extra["prefix"] = label + (fmt.separator.rstrip() or ":")
    if task.labels:
        extra = signature.fields[task.output].json_schema_extra
        extra["desc"] = "one of: " + ", ".join(task.labels)
    predict = dspy.Predict(signature)
    predict.demos = [dict(d) for d in row.demos]
    state = predict.dump_state()
    state["metadata"] = {"dependency_versions": get_dependency_versions()}
    return json.dumps(state, indent=2, ensure_ascii=False) + "\n"
