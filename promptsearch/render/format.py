"""A prompt's surface format: field names, separator, casing, spacing, answer line.

`PromptFormat()` (every field at its default) renders byte for byte what promptsearch rendered
before formats existed: 'Review: text' lines, a blank line between demonstrations, the strategy's
own answer line ('Label:', 'Answer:') followed by ' ' and the answer. A candidate's format is
stored in its parameters (the `format_*` keys, `FORMAT_KEYS`), so a stored candidate comes back
with the format it was scored with; a candidate without those keys has the default format.

The separator is split at its trailing space: the text before the answer ends with the name and
the separator's visible part ('Label:' for ': '), and the space goes into the template's
`answer_prefix`, as before; a separator without a trailing space (':\\n') stays whole in the text
and the answer prefix is empty, so the model's answer starts on the next line.

    query block, separator ': ':    Review: {review}\\nLabel:        answer_prefix ' '
    query block, separator ':\\n':   Review:\\n{review}\\nLabel:\\n     answer_prefix ''
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# Stored parameter (and Optuna parameter) of each format dimension, with its default.
FORMAT_KEYS = {"format_names": "data", "format_separator": ": ", "format_casing": "as_is",
               "format_spacing": "blank", "format_answer": None}
SPACING_TEXT = {"blank": "\n\n", "line": "\n", "###": "\n\n###\n\n", "---": "\n\n---\n\n"}
CASE: dict[str, Callable[[str], str]] = {"as_is": lambda s: s, "title": str.title, "upper": str.upper,
                                         "lower": str.lower}


def display_name(field_name: str) -> str:
    """'review_text' -> 'Review text' (the label a field gets in the prompt by default)."""
    text = field_name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@dataclass(frozen=True, kw_only=True)
class PromptFormat:
    names: str = "data"  # data | generic | task
    separator: str = ": "
    casing: str = "as_is"
    spacing: str = "blank"
    answer: str | None = None  # the answer line's name; None: the strategy's own
    custom: tuple[tuple[str, str], ...] = ()  # `task` names: (field, name) pairs from the space

    @classmethod
    def from_params(cls, params: Mapping[str, Any], custom: Mapping[str, str] | None = None) -> PromptFormat:
        """The format a stored or sampled parameter set stands for (defaults for missing keys)."""
        get = lambda key: params.get(key, FORMAT_KEYS[key])  # noqa: E731
        names = params.get("format_custom_names", custom or {})
        return cls(names=get("format_names"), separator=get("format_separator"), casing=get("format_casing"),
                   spacing=get("format_spacing"), answer=get("format_answer"),
                   custom=tuple(sorted(dict(names).items())))

    def field_label(self, name: str, inputs: tuple[str, ...], output: str) -> str:
        """What field `name` is called in the prompt."""
        if self.names == "generic":
            label = "Output" if name == output else "Input" if len(inputs) == 1 else f"Input {inputs.index(name) + 1}"
        elif self.names == "task":
            label = dict(self.custom).get(name) or display_name(name)
        else:
            label = display_name(name)
        return CASE[self.casing](label)

    def field_line(self, label: str, value: str) -> str:
        return f"{label}{self.separator}{value}"

    def answer_label(self, layout_line: str, output: str, inputs: tuple[str, ...]) -> str:
        """The answer line's name: the strategy's (`layout_line` without its ':'), renamed like the
        output field when it names the output field, or the chosen answer prefix."""
        if self.answer is not None:
            return CASE[self.casing](self.answer)
        name = layout_line[:-1] if layout_line.endswith(":") else layout_line
        if name == display_name(output):
            return self.field_label(output, inputs, output)
        return CASE[self.casing](name)

    def answer_parts(self, layout_line: str, output: str, inputs: tuple[str, ...]) -> tuple[str, str]:
        """(text that ends the prompt before an answer, the template's answer prefix) for a
        strategy's answer line. A line without a ':' ("ANSWER!!!") is the strategy's own wording,
        not a field name: the separator and casing leave it as written, only a chosen answer
        prefix replaces it."""
        if self.answer is None and not layout_line.endswith(":"):
            return layout_line, " "
        return self.answer_head(self.answer_label(layout_line, output, inputs))

    def answer_head(self, label: str) -> tuple[str, str]:
        """(text that ends the prompt before an answer, the template's answer prefix)."""
        if self.separator.endswith(" "):
            return f"{label}{self.separator[:-1]}", " "
        return f"{label}{self.separator}", ""

    @property
    def demo_gap(self) -> str:
        """What goes between two example blocks (demonstrations and the query)."""
        return SPACING_TEXT[self.spacing]


DEFAULT_FORMAT = PromptFormat()


def format_choices(params: Mapping[str, Any]) -> dict[str, Any]:
    """The format dimensions of a parameter set, as stored (empty: the default format)."""
    return {k: params[k] for k in FORMAT_KEYS if k in params}
