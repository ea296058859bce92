"""Candidates, prompt templates, and the two layouts (plain text and chat) they are rendered in.

A template holds sentinel markers where each input field goes, so the same rendered text gives
the filled prompt for an example (`fill`) and the user-facing prompt with `{field}` placeholders.
Field values are substituted verbatim: braces or template syntax in the data are never evaluated.

Render knows no strategy by name. A candidate carries its strategy object (promptsearch.strategies,
a layer above: render receives strategies, it never looks them up), and the strategy says where
things go in the layout (`Layout`: what introduces an answer, where a CoT trigger sits, what a
demonstration's answer reads); the layouts themselves are written here. The strategy's
`hash_key` goes into the template's hash, so the same text under another strategy is another
prompt (and another evaluation-cache entry).

`Prompt` is what the search loop and the evaluator hold: a `PromptTemplate`, or a `DynamicPrompt`
(dynamic.py) whose demonstrations differ per input.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.render.format import DEFAULT_FORMAT, PromptFormat, display_name

_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters: never in real text

ChatFormat = Callable[[list[dict[str, str]]], str]  # messages -> the model's chat prompt


def slot(name: str) -> str:
    return f"{_OPEN}{name}{_CLOSE}"


@dataclass(frozen=True)
class Layout:
    """Where a strategy puts things; the same for the plain and the chat layout.

    Plain:  [instruction]  {inputs}[\\n{block_trigger}]\\n{answer_line} {demo_answer}   (each demo)
                           {inputs}[\\n{block_trigger}]\\n{answer_line}[ {opening}]      (the query)
    Chat:   system = instruction; per demo a user turn ({inputs}[\\n{block_trigger}]) and an
            assistant turn (demo_answer); the final user turn; then `opening` after the chat
            template's assistant header.
    """

    answer_line: str  # what introduces an answer in the plain layout ("Label:", "Answer:")
    demo_answer: Callable[[Example], str]  # a demonstration's answer text
    block_trigger: str | None = None  # written at the end of every input block
    opening: str | None = None  # the text the model's own answer starts with


class PromptStrategy(Protocol):
    """What rendering needs of a strategy (promptsearch.strategies.Strategy implements it)."""

    @property
    def name(self) -> str: ...

    def key(self) -> str:
        """A short, exact description (bootstrapped demos are stored under it)."""

    def hash_key(self) -> str | None:
        """Added to the prompt hash; None keeps the hash a template had before strategies existed."""

    def layout(self, candidate: Candidate, task: TaskSpec) -> Layout: ...


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """One point of the search space, with its demos already chosen and its strategy object."""

    instruction: str
    demos: tuple[Example, ...] = ()
    cot_trigger: str | None = None
    template: str = "plain"
    params: dict = field(default_factory=dict, compare=False)  # as stored (the strategy's included)
    nearest: Any = field(default=None, compare=False)  # dynamic.NearestDemos: demos chosen per input
    strategy: PromptStrategy = field(kw_only=True)
    format: PromptFormat = field(default=DEFAULT_FORMAT, kw_only=True)  # render/format.py


@dataclass(frozen=True)
class PromptTemplate:
    text: str  # with slots for the input fields
    answer_prefix: str  # what goes between the prompt and an answer: " " after "Label:", "" in chat
    fields: tuple[str, ...]
    strategy: PromptStrategy  # how the evaluator turns the filled prompt into an answer

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

    def per_example(self, examples: Sequence[Example]) -> list[PromptTemplate]:
        """The template each example is scored with: this one (see DynamicPrompt for the other kind)."""
        return [self] * len(examples)

    @property
    def hash(self) -> str:
        items: list = [self.text, self.answer_prefix, list(self.fields)]
        key = self.strategy.hash_key()
        if key is not None:
            items.append(key)
        blob = json.dumps(items, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


@runtime_checkable
class Prompt(Protocol):
    """A rendered candidate, as the search loop, the evaluator and storage see it."""

    @property
    def hash(self) -> str: ...  # identifies the candidate (its row, its leaderboard entry)

    @property
    def answer_prefix(self) -> str: ...

    @property
    def fields(self) -> tuple[str, ...]: ...

    @property
    def strategy(self) -> PromptStrategy: ...

    def with_placeholders(self) -> str:
        """The prompt for display and storage, `{field}` where the inputs go."""

    def per_example(self, examples: Sequence[Example]) -> list[PromptTemplate]:
        """The template each example is scored with."""


def expand_instruction(instruction: str, task: TaskSpec) -> str:
    """Fill the variables an instruction may use: {labels}, {inputs}, {output}."""
    labels = ", ".join(task.labels) if task.labels else ""
    inputs = ", ".join(display_name(f).lower() for f in task.inputs)
    return (instruction.replace("{labels}", labels).replace("{inputs}", inputs)
            .replace("{output}", display_name(task.output).lower()))


def query_block(task: TaskSpec, values: dict[str, str], trigger: str | None,
                fmt: PromptFormat = DEFAULT_FORMAT) -> str:
    """The input fields, one 'Name: value' line each (in `fmt`), then the trigger if any."""
    lines = [fmt.field_line(fmt.field_label(name, task.inputs, task.output), values[name]) for name in task.inputs]
    if trigger:
        lines.append(trigger)
    return "\n".join(lines)


def render_template(candidate: Candidate, task: TaskSpec, chat_format: ChatFormat | None = None) -> PromptTemplate:
    """The candidate with its demos as one template; `chat_format` (the model's chat template) is
    needed for the 'chat' layout. (render() also handles demos chosen per input.)"""
    layout = candidate.strategy.layout(candidate, task)
    slots = {name: slot(name) for name in task.inputs}
    if candidate.template == "chat":
        if chat_format is None:
            raise ValueError("the chat layout needs the model's chat template")
        text = chat_format(_chat(candidate, task, layout, slots)) + (layout.opening or "")
        return PromptTemplate(text, "", task.inputs, candidate.strategy)
    fmt = candidate.format
    head, prefix = fmt.answer_parts(layout.answer_line, task.output, task.inputs)
    blocks = [f"{query_block(task, demo.fields, layout.block_trigger, fmt)}\n{head}{prefix}{layout.demo_answer(demo)}"
              for demo in candidate.demos]
    if layout.opening:  # the model's answer opens with it; what it writes next follows a space
        head, prefix = f"{head}{prefix or ''}{layout.opening}", " "
    blocks.append(f"{query_block(task, slots, layout.block_trigger, fmt)}\n{head}")
    instruction = expand_instruction(candidate.instruction, task)
    body = fmt.demo_gap.join(blocks)
    return PromptTemplate(f"{instruction}\n\n{body}" if instruction else body, prefix, task.inputs,
                          candidate.strategy)


def _chat(candidate: Candidate, task: TaskSpec, layout: Layout, slots: dict[str, str]) -> list[dict[str, str]]:
    """Messages up to the final user turn (the opening, if any, follows the assistant header)."""
    instruction = expand_instruction(candidate.instruction, task)
    messages = [{"role": "system", "content": instruction}] if instruction else []
    fmt = candidate.format
    for demo in candidate.demos:
        messages.append({"role": "user", "content": query_block(task, demo.fields, layout.block_trigger, fmt)})
        messages.append({"role": "assistant", "content": layout.demo_answer(demo)})
    messages.append({"role": "user", "content": query_block(task, slots, layout.block_trigger, fmt)})
    return messages


def chat_messages(candidate: Candidate, task: TaskSpec) -> list[dict[str, str]]:
    """The chat layout's messages with `{field}` placeholders (for export)."""
    slots = {name: "{" + name + "}" for name in task.inputs}
    return _chat(candidate, task, candidate.strategy.layout(candidate, task), slots)
