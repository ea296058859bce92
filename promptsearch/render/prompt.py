"""Rendering a candidate (instruction, demos, CoT trigger, layout) into a prompt template.

A template holds sentinel markers where each input field goes, so the same rendered text gives
the filled prompt for an example (`fill`) and the user-facing prompt with `{field}` placeholders.
Field values are substituted verbatim: braces or template syntax in the data are never evaluated.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example

_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters: never in real text


def slot(name: str) -> str:
    return f"{_OPEN}{name}{_CLOSE}"


def display_name(field_name: str) -> str:
    """'review_text' -> 'Review text' (the label a field gets in the prompt)."""
    text = field_name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Candidate:
    """One point of the search space, with its demos already chosen."""

    instruction: str
    demos: tuple[Example, ...] = ()
    cot_trigger: str | None = None
    template: str = "plain"
    params: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PromptTemplate:
    text: str  # with slots for the input fields
    answer_prefix: str  # what goes between the prompt and an answer: " " after "Label:", "" in chat
    fields: tuple[str, ...]

    def fill(self, example: Example) -> str:
        out = self.text
        for name in self.fields:
            out = out.replace(slot(name), example[name])
        return out

    def with_placeholders(self) -> str:
        out = self.text
        for name in self.fields:
            out = out.replace(slot(name), "{" + name + "}")
        return out

    @property
    def hash(self) -> str:
        blob = json.dumps([self.text, self.answer_prefix, list(self.fields)], ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def expand_instruction(instruction: str, task: TaskSpec) -> str:
    """Fill the variables an instruction may use: {labels}, {inputs}, {output}."""
    labels = ", ".join(task.labels) if task.labels else ""
    inputs = ", ".join(display_name(f).lower() for f in task.inputs)
    return (instruction.replace("{labels}", labels).replace("{inputs}", inputs)
            .replace("{output}", display_name(task.output).lower()))


def _query_block(task: TaskSpec, values: dict[str, str], trigger: str | None) -> str:
    lines = [f"{display_name(name)}: {values[name]}" for name in task.inputs]
    if trigger:
        lines.append(trigger)
    return "\n".join(lines)


def render(candidate: Candidate, task: TaskSpec,
           chat_format: Callable[[list[dict[str, str]]], str] | None = None) -> PromptTemplate:
    """Render the candidate; `chat_format` (the model's chat template) is needed for 'chat'."""
    instruction = expand_instruction(candidate.instruction, task)
    slots = {name: slot(name) for name in task.inputs}
    if candidate.template == "chat":
        if chat_format is None:
            raise ValueError("the chat layout needs the model's chat template")
        messages = _chat_messages(instruction, candidate, task, slots)
        return PromptTemplate(chat_format(messages), "", task.inputs)
    out_name = display_name(task.output)
    parts = [instruction] if instruction else []
    for demo in candidate.demos:
        block = _query_block(task, demo.fields, candidate.cot_trigger)
        parts.append(f"{block}\n{out_name}: {demo[task.output]}")
    parts.append(f"{_query_block(task, slots, candidate.cot_trigger)}\n{out_name}:")
    return PromptTemplate("\n\n".join(parts), " ", task.inputs)


def _chat_messages(instruction: str, candidate: Candidate, task: TaskSpec,
                   slots: dict[str, str]) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": instruction}] if instruction else []
    for demo in candidate.demos:
        messages.append({"role": "user", "content": _query_block(task, demo.fields, candidate.cot_trigger)})
        messages.append({"role": "assistant", "content": demo[task.output]})
    messages.append({"role": "user", "content": _query_block(task, slots, candidate.cot_trigger)})
    return messages


def chat_messages(candidate: Candidate, task: TaskSpec) -> list[dict[str, str]]:
    """The chat layout's messages with `{field}` placeholders (for export)."""
    slots = {name: "{" + name + "}" for name in task.inputs}
    return _chat_messages(expand_instruction(candidate.instruction, task), candidate, task, slots)

