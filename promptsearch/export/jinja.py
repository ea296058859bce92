"""`jinja`: a Jinja2 template whose variables are the task's input fields.

`jinja2.Template(text).render(review=...)` gives exactly the prompt that was scored. Everything
that is not a variable is literal prompt text, so whatever Jinja would read as syntax is escaped:
a `{` that would open `{{`, `{%` or `{#` (in the data or next to a variable), a carriage return
(Jinja normalises line endings) and a final newline (Jinja drops one by default).
"""
from __future__ import annotations

from promptsearch.export.formats import EXPORTERS
from promptsearch.export.source import check_identifiers, scored_template, split_slots, task_of
from promptsearch.render.prompt import PromptTemplate
from promptsearch.search.results import Entry
from promptsearch.storage.store import SearchRecord, Store


@EXPORTERS.register("jinja")
def jinja_export(store: Store, record: SearchRecord, entry: Entry) -> str:
    task = task_of(record)
    check_identifiers(task, "jinja")
    template = scored_template(record, entry.candidate)
    body = to_jinja(template)
    header = (f"promptsearch: search '{record.name}', trial {entry.trial}, dev {task.metric} "
              f"{entry.score:.4f}, model {record.model}; variables: {', '.join(task.inputs)}; "
              f"the answer follows the last character{_prefix_note(template)}")
    header = header.replace("#}", "# }")  # a name containing '#}' must not end the comment early
    # '-#}' would also strip whitespace the prompt starts with: only use it when there is none.
    if body[:1].isspace():
        return "{# " + header + " #}" + body
    return "{# " + header + " -#}\n" + body


def _prefix_note(template: PromptTemplate) -> str:
    return f" (scored with {template.answer_prefix!r} before it)" if template.answer_prefix else ""


def to_jinja(template: PromptTemplate) -> str:
    """Slots become `{{ field }}`; literal text is escaped so that it renders as itself."""
    out: list[str] = []
    following = ""  # what the template continues with after the piece being written
    for kind, value in reversed(split_slots(template)):
        piece = "{{ " + value + " }}" if kind == "field" else _literal(value, following)
        out.append(piece)
        following = piece[:1]
    return "".join(reversed(out))


def _literal(text: str, following: str) -> str:
    out: list[str] = []
    nxt = following
    for i in range(len(text) - 1, -1, -1):
        ch = text[i]
        at_end = nxt == "" and i == len(text) - 1
        if ch == "\r" or (ch == "{" and nxt in ("{", "%", "#")) or (ch == "\n" and at_end):
            piece = "{{ " + _string(ch) + " }}"
        else:
            piece = ch
        out.append(piece)
        nxt = piece[0]
    return "".join(reversed(out))


def _string(ch: str) -> str:
    return {"\r": "'\\r'", "\n": "'\\n'", "{": "'{'"}[ch]
