"""Why two strings that look the same are not: one clause for an error message.

A label, field or key that the user sees twice on screen but the program calls different is
the most confusing error there is, so every message that compares user text against the names
it allows adds this explanation (docs/errors.md, "Messages that explain").
"""
from __future__ import annotations

import unicodedata

from promptsearch.errors import excerpt

# Characters that print as nothing: zero-width space/joiners, word joiner, BOM, bidi controls.
INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\u200f",
             *(chr(c) for c in range(0x202A, 0x202F)), *(chr(c) for c in range(0x2066, 0x206A))}


def _visible(text: str) -> str:
    return "".join(c for c in text if c not in INVISIBLE)


def why_different(given: str, allowed: str, *, identical_only: bool = False) -> str | None:
    """A clause saying how `given` differs from `allowed` when they look alike; None otherwise.
    `identical_only`: only differences nobody can see (normalization, invisible characters), not
    case or surrounding spaces ("CO" and "Co" may well be two labels)."""
    if given == allowed:
        return None
    a, b = excerpt(given, 40), excerpt(allowed, 40)
    if unicodedata.normalize("NFC", given) == unicodedata.normalize("NFC", allowed):
        return (f"'{a}' and '{b}' differ only in Unicode normalization "
                f"({_form(given)} vs {_form(allowed)}); save both in the same form (NFC)")
    if _visible(given) == _visible(allowed):
        hidden = sorted({f"U+{ord(c):04X}" for c in given + allowed if c in INVISIBLE})
        return f"'{a}' and '{b}' differ only in invisible characters ({', '.join(hidden)}); delete them"
    if identical_only:
        return None
    if given.strip() == allowed.strip():
        return f"'{a}' and '{b}' differ only in spaces around them"
    if given.casefold() == allowed.casefold():
        return f"'{a}' and '{b}' differ only in case"
    return None


def explain(given: str, allowed: list[str] | tuple[str, ...], *, identical_only: bool = False) -> str:
    """'; <why>' for the first allowed string `given` looks like, or ''."""
    for name in allowed:
        why = why_different(given, name, identical_only=identical_only)
        if why is not None:
            return "; " + why
    return ""


def _form(text: str) -> str:
    if unicodedata.is_normalized("NFC", text):
        return "NFC"
    return "NFD" if unicodedata.is_normalized("NFD", text) else "mixed"
