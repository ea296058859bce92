"""A stored candidate back as objects: its Candidate, its task, and the exact template it was scored with.

The database keeps the prompt with `{field}` placeholders (readable, and what `text` exports). Formats
that substitute values (Jinja, the chat list) need to know exactly where each field went, which
placeholders cannot say when a demo's text itself contains "{review}". So the slot template is
rebuilt and checked against the stored prompt hash, which covers the text, the answer prefix and
the fields: a template that passes is byte for byte the one that was scored.
"""
from __future__ import annotations

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example, example_id
from promptsearch.errors import UserError
from promptsearch.render.prompt import Candidate, PromptTemplate, render_template, slot
from promptsearch.storage.models import CandidateRow
from promptsearch.storage.store import SearchRecord
from promptsearch.strategies import strategy_from_params


def task_of(record: SearchRecord) -> TaskSpec:
    return TaskSpec.from_dict(record.task)


def candidate_of(row: CandidateRow) -> Candidate:
    params = dict(row.params or {})
    demos = tuple(Example(id=example_id(d), fields=dict(d)) for d in row.demos)
    return Candidate(instruction=row.instruction, demos=demos, cot_trigger=row.cot_trigger,
                     template=row.template, params=params, strategy=strategy_from_params(params))


def scored_template(record: SearchRecord, row: CandidateRow) -> PromptTemplate:
    """The PromptTemplate (with slots) whose hash is the stored one."""
    if (row.params or {}).get("demo_selection") == "nearest":
        raise UserError(f"search '{record.name}': the best candidate picks its demonstrations per input "
                        "(nearest neighbours), so it has no single static prompt; export it with --format json")
    task = task_of(record)
    if row.template == "plain":  # plain needs no model: render it again
        template = render_template(candidate_of(row), task)
        if template.hash == row.prompt_hash:
            return template
    # The chat layout went through the model's chat template, which export does not load:
    # put the slots back where the placeholders are (all of them, else only the query's).
    for recover in (_all_placeholders, _last_placeholders):
        template = PromptTemplate(recover(row.prompt, task.inputs), row.answer_prefix, task.inputs,
                                  strategy_from_params(row.params or {}))
        if template.hash == row.prompt_hash:
            return template
    raise UserError(f"search '{record.name}': cannot rebuild the scored template of prompt "
                    f"{row.prompt_hash[:12]} from the database; export it with --format text or json")


def _all_placeholders(text: str, fields: tuple[str, ...]) -> str:
    for name in fields:
        text = text.replace("{" + name + "}", slot(name))
    return text


def _last_placeholders(text: str, fields: tuple[str, ...]) -> str:
    """Only the last occurrence of each placeholder: the query comes after every demonstration."""
    for name in fields:
        marker = "{" + name + "}"
        at = text.rfind(marker)
        if at >= 0:
            text = text[:at] + slot(name) + text[at + len(marker):]
    return text


def split_slots(template: PromptTemplate) -> list[tuple[str, str]]:
    """The template as ("text", literal) and ("field", name) pieces, in order."""
    pieces: list[tuple[str, str]] = [("text", template.text)]
    for name in template.fields:
        marker = slot(name)
        out: list[tuple[str, str]] = []
        for kind, value in pieces:
            if kind != "text" or marker not in value:
                out.append((kind, value))
                continue
            parts = value.split(marker)
            for i, part in enumerate(parts):
                if i:
                    out.append(("field", name))
                if part:
                    out.append(("text", part))
        pieces = out
    return pieces


def check_identifiers(task: TaskSpec, fmt: str) -> None:
    """Jinja variables and DSPy signature fields must be Python-style identifiers."""
    for name in (*task.inputs, task.output):
        if not name.isidentifier():
            raise UserError(f"--format {fmt}: task field '{name}' is not a valid variable name; rename it "
                            f"in the task file and its data to letters, digits and '_' (e.g. "
                            f"'{_identifier(name)}')")


def _identifier(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return cleaned if cleaned[:1].isalpha() or cleaned[:1] == "_" else "f_" + cleaned
