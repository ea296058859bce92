"""What export formats share: the search's task, the exact template the best candidate was scored
with (search/rebuild.py rebuilds it; export loads no model), its slots, and field-name checks."""
from __future__ import annotations

from promptsearch.config.task import TaskSpec
from promptsearch.errors import UserError
from promptsearch.render.prompt import PromptTemplate, slot
from promptsearch.search.rebuild import per_input_demos, rebuild_prompt
from promptsearch.storage.models import CandidateRow
from promptsearch.storage.store import SearchRecord


def task_of(record: SearchRecord) -> TaskSpec:
    return TaskSpec.from_dict(record.task)


def scored_template(record: SearchRecord, row: CandidateRow) -> PromptTemplate:
    """The PromptTemplate (with slots) whose hash is the stored one."""
    if per_input_demos(row):
        raise UserError(f"search '{record.name}': the best candidate picks its demonstrations per input "
                        "(nearest neighbours), so it has no single static prompt; export it with --format json")
    try:
        return rebuild_prompt(record, row)
    except UserError as e:
        raise UserError(f"{e}; export it with --format text or json") from None


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
