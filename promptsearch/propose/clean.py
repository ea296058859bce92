"""Cleaning proposals: strip the wrapping a model adds, then reject what cannot be an instruction."""
from __future__ import annotations

import re
from collections.abc import Iterable

_PREFIX = re.compile(r"^\s*(?:[-*•]+\s*|\d+[.)]\s*|the instruction was to\b\s*|"
                     r"(?:new instruction|improved instruction|instruction|output|answer|prompt|"
                     r"paraphrase|variation)\s*[:\-]\s*)", re.I)
_QUOTES = "\"'`“”‘’«»"


def key(text: str) -> str:
    """Normalised text for de-duplication: case, whitespace and punctuation ignored."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def clean(raw: str) -> str:
    """The first non-empty line, without list markers, 'Instruction:' prefixes or quotes."""
    text = next((line.strip() for line in raw.splitlines() if line.strip()), "")
    for _ in range(3):  # prefixes and quotes can nest: '1. Instruction: "Do X."'
        text = _PREFIX.sub("", text, count=1).strip().strip(_QUOTES).strip()
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    if text and text[-1] not in ".!?":
        text += "."
    return text


def rejection(text: str, *, seen: Iterable[str], examples: Iterable[str], max_words: int) -> str | None:
    """Why `text` is not a usable new instruction, or None if it is."""
    k = key(text)
    if not k:
        return "empty"
    if len(text.split()) > max_words:
        return f"over-long ({len(text.split())} words > {max_words})"
    if k in {key(s) for s in seen}:
        return "duplicate"
    for ex in examples:
        ek = key(ex)
        if ek and (k == ek or (len(ek.split()) >= 6 and ek in k)):
            return "copies an example"
    return None
