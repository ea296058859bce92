"""The `formats` block of a search space: the prompt's surface format as a searched dimension.

Small models are sensitive to meaning-preserving format changes (Sclar et al. 2023, "Quantifying
Language Models' Sensitivity to Spurious Features in Prompt Design": up to 76 points of few-shot
accuracy from field names, separators, casing and spacing alone). Each list below is a set of
choices Optuna samples like any other dimension (search/params.py); render/format.py turns a
sampled choice into text. A space without the block renders exactly as before it existed.

    formats:
      field_names: [data, generic, task]   # 'Review' / 'Input' / a name given under `names`
      names: {review: Customer review, label: Sentiment}   # for `task` (missing fields: the data's)
      separators: [": ", " - ", ":\\n"]     # between a field's name and its value
      casing: [as_is, title, upper, lower] # of the field names
      spacing: [blank, "###", "---"]       # between demonstrations
      answer_prefixes: [null, Answer]      # the answer line's name; null: the strategy's own
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from promptsearch.config.yamlio import Fields
from promptsearch.errors import ConfigError, excerpt

FIELD_NAMES = ("data", "generic", "task")
CASINGS = ("as_is", "title", "upper", "lower")
SPACINGS = ("blank", "line", "###", "---")
MAX_TEXT = 40  # a separator or a name longer than this is a mistake, not a format


@dataclass(frozen=True, kw_only=True)
class FormatSpec:
    """The format choices of a space; the first of each list is today's rendering when the
    lists are left out (a block with only `separators`, say, keeps the other dimensions fixed)."""

    field_names: tuple[str, ...] = ("data",)
    names: dict[str, str] = field(default_factory=dict)
    separators: tuple[str, ...] = (": ",)
    casing: tuple[str, ...] = ("as_is",)
    spacing: tuple[str, ...] = ("blank",)
    answer_prefixes: tuple[str | None, ...] = (None,)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else dict(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FormatSpec:
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else dict(v) for k, v in d.items()}
        return cls(**values)


def parse_formats(raw: dict[str, Any], path: str | Path) -> FormatSpec:
    """The `formats` mapping, strictly: every list non-empty, distinct, from its allowed values."""
    f = Fields(raw, path, prefix="formats.")
    styles = _choices(f, "field_names", FIELD_NAMES)
    names = _names(f)
    if "task" in styles and not names:
        raise f.error("names", "is needed when field_names lists 'task': a mapping of field to name, "
                               "e.g. {review: Customer review}")
    separators = _texts(f, "separators", allow_null=False) or [": "]
    for i, sep in enumerate(separators):
        if not sep.strip():
            raise f.error(f"separators[{i}]", "must contain a visible character, e.g. ': ' or ' - '")
    casing = _choices(f, "casing", CASINGS)
    spacing = _choices(f, "spacing", SPACINGS)
    prefixes = _texts(f, "answer_prefixes", allow_null=True) or [None]
    for i, p in enumerate(prefixes):
        if p is not None and (not p.strip() or "\n" in p):
            raise f.error(f"answer_prefixes[{i}]", "must be a one-line name such as 'Answer', or null")
    f.done()
    return FormatSpec(field_names=tuple(styles), names=names, separators=tuple(separators), casing=tuple(casing),
                      spacing=tuple(spacing), answer_prefixes=tuple(prefixes))


def check_format_names(spec: FormatSpec, fields: tuple[str, ...], source: str) -> None:
    """Names under `formats.names` must be fields of the task (a typo would silently fall back)."""
    for key in spec.names:
        if key not in fields:
            raise ConfigError(f"{source}: field 'formats.names.{excerpt(key, 40)}' is not a field of the task; "
                              f"the task's fields are {', '.join(fields)}")


def _choices(f: Fields, key: str, allowed: tuple[str, ...]) -> list[str]:
    values = f.str_list(key) or [allowed[0]]
    for i, v in enumerate(values):
        if v not in allowed:
            raise f.error(f"{key}[{i}]", f"is '{excerpt(v)}'; allowed: {', '.join(allowed)}")
    if len(set(values)) != len(values):
        raise f.error(key, "lists a value twice")
    return values


def _texts(f: Fields, key: str, allow_null: bool) -> list[Any] | None:
    values = f.str_list(key, allow_null=allow_null, allow_blank=True)
    for i, v in enumerate(values or []):
        if v is not None and len(v) > MAX_TEXT:
            raise f.error(f"{key}[{i}]", f"is longer than {MAX_TEXT} characters")
    if values is not None and len(set(values)) != len(values):
        raise f.error(key, "lists a value twice")
    return values


def _names(f: Fields) -> dict[str, str]:
    raw = f.get("names", dict, default={})
    for key, value in raw.items():
        if not isinstance(value, str) or not value.strip() or "\n" in value or len(value) > MAX_TEXT:
            raise f.error(f"names.{excerpt(str(key), 40)}",
                          f"must be a one-line name of at most {MAX_TEXT} characters, got {excerpt(value)}")
    return {str(k): v for k, v in raw.items()}
