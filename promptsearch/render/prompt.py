"""Rendering a candidate (instruction, demos, CoT trigger, layout, strategy) into a prompt template.

A template holds sentinel markers where each input field goes, so the same rendered text gives
the filled prompt for an example (`fill`) and the user-facing prompt with `{field}` placeholders.
Field values are substituted verbatim: braces or template syntax in the data are never evaluated.

Direct candidates render as they always did (same text, same hash). Reasoning strategies render
the layout described in strategy.py, and their template carries the strategy, which the hash
covers. A candidate whose demos are the nearest neighbours of each input renders to a
`DynamicPrompt` (dynamic.py): one template per example.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.render.strategy import (
    ANSWER_LINE,
    DIRECT,
    RATIONALE,
    Strategy,
    reasoning_answer,
)

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
    nearest: Any = field(default=None, compare=False)  # dynamic.NearestDemos: demos chosen per input

    @property
    def strategy(self) -> Strategy:
        """The strategy lives in the parameters, so a candidate read back from storage has it."""
        return Strategy.from_params(self.params)


@dataclass(frozen=True)
class PromptTemplate:
    text: str  # with slots for the input fields
    answer_prefix: str  # what goes between the prompt and an answer: " " after "Label:", "" in chat
    fields: tuple[str, ...]
    strategy: Strategy = DIRECT  # how the evaluator turns the filled prompt into an answer

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

    def per_example(self, examples: Sequence[Example]) -> list["PromptTemplate"]:
        """The template each example is scored with: this one (see DynamicPrompt for the other kind)."""
        return [self] * len(examples)

    @property
    def hash(self) -> str:
        items: list = [self.text, self.answer_prefix, list(self.fields)]
        if self.strategy.reasons:  # direct templates keep the hash they had before strategies
            items.append(self.strategy.key())
        blob = json.dumps(items, ensure_ascii=False)
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


ChatFormat = Callable[[list[dict[str, str]]], str]


def render(candidate: Candidate, task: TaskSpec, chat_format: ChatFormat | None = None):
    """Render the candidate; `chat_format` (the model's chat template) is needed for 'chat'.

    Returns a PromptTemplate, or a DynamicPrompt when the demos are chosen per input.
    """
    if candidate.nearest is not None:
        from promptsearch.render.dynamic import DynamicPrompt
        return DynamicPrompt.build(candidate, task, chat_format)
    if candidate.template == "chat" and chat_format is None:
        raise ValueError("the chat layout needs the model's chat template")
    if candidate.strategy.reasons:
        return _render_reasoning(candidate, task, chat_format)
    instruction = expand_instruction(candidate.instruction, task)
    slots = {name: slot(name) for name in task.inputs}
    if candidate.template == "chat":
        messages = _chat_messages(instruction, candidate, task, slots)
        return PromptTemplate(chat_format(messages), "", task.inputs)
    out_name = display_name(task.output)
    parts = [instruction] if instruction else []
    for demo in candidate.demos:
        block = _query_block(task, demo.fields, candidate.cot_trigger)
        parts.append(f"{block}\n{out_name}: {demo[task.output]}")
    parts.append(f"{_query_block(task, slots, candidate.cot_trigger)}\n{out_name}:")
    return PromptTemplate("\n\n".join(parts), " ", task.inputs)


def _render_reasoning(candidate: Candidate, task: TaskSpec, chat_format: ChatFormat | None) -> PromptTemplate:
    """The reasoning layout (strategy.py): the template ends where the model starts to write."""
    strategy = candidate.strategy
    trigger = _trigger(candidate)
    instruction = expand_instruction(candidate.instruction, task)
    slots = {name: slot(name) for name in task.inputs}
    if candidate.template == "chat":
        text = chat_format(_chat_messages(instruction, candidate, task, slots)) + (trigger or "")
        return PromptTemplate(text, "", task.inputs, strategy)
    parts = [instruction] if instruction else []
    for demo in candidate.demos:
        answer = reasoning_answer(demo.fields.get(RATIONALE), demo[task.output], trigger, task)
        parts.append(f"{_query_block(task, demo.fields, None)}\n{ANSWER_LINE} {answer}")
    query = f"{_query_block(task, slots, None)}\n{ANSWER_LINE}" + (f" {trigger}" if trigger else "")
    parts.append(query)
    return PromptTemplate("\n\n".join(parts), " ", task.inputs, strategy)


def _trigger(candidate: Candidate) -> str | None:
    # Least-to-most writes its own opening (the decomposition request) where a trigger would go.
    return None if candidate.strategy.name == "least_to_most" else candidate.cot_trigger


def _chat_messages(instruction: str, candidate: Candidate, task: TaskSpec,
                   slots: dict[str, str]) -> list[dict[str, str]]:
    """Messages up to the final user turn. For reasoning strategies the trigger is not in the user
    turn: it opens the assistant's (render appends it after the chat template's assistant header)."""
    reasons = candidate.strategy.reasons
    block_trigger = None if reasons else candidate.cot_trigger
    messages = [{"role": "system", "content": instruction}] if instruction else []
    for demo in candidate.demos:
        messages.append({"role": "user", "content": _query_block(task, demo.fields, block_trigger)})
        answer = (reasoning_answer(demo.fields.get(RATIONALE), demo[task.output], _trigger(candidate), task)
                  if reasons else demo[task.output])
        messages.append({"role": "assistant", "content": answer})
    messages.append({"role": "user", "content": _query_block(task, slots, block_trigger)})
    return messages


def chat_messages(candidate: Candidate, task: TaskSpec) -> list[dict[str, str]]:
    """The chat layout's messages with `{field}` placeholders (for export)."""
    slots = {name: "{" + name + "}" for name in task.inputs}
    return _chat_messages(expand_instruction(candidate.instruction, task), candidate, task, slots)

