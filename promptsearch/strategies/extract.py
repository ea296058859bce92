"""Answer extraction from free model text, by answer type, and majority voting over answers.

Number: the last number (or the first, right after an answer-extraction trigger, as Kojima et
al. do: "is 18 dollars. 16 - 3 - 4 = 9" answers 18). Thousands separators, a leading minus,
currency and units are handled: "-$1,234.50 per week" is -1234.5.
Label: the first of the task's labels mentioned, as a whole word, case-insensitively.
Text: the first line with a letter or digit, without a leading ':' or a trailing full stop.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from promptsearch.data.metrics import normalize

# A number not glued to a word or another number: "16-3" gives 16 and 3, never -3. The minus
# (ASCII or U+2212) may stand before or after a currency sign; groups of three after commas.
_NUMBER = re.compile(r"(?<![\w.])([-\u2212]?)(?:[$€£]\s?)?([-\u2212]?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?!\d)")


def numbers(text: str) -> list[str]:
    """Every number in `text`, canonical: '1,234.50' -> '1234.5', '-$3' -> '-3', '7.0' -> '7'."""
    out = []
    for m in _NUMBER.finditer(text):
        sign = "-" if (m.group(1) or m.group(2)) else ""
        digits = m.group(3).replace(",", "") + (m.group(4) or "")
        out.append(canonical_number(sign + digits))
    return out


def canonical_number(text: str) -> str:
    value = float(text)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}" if abs(value) < 1e15 else str(value)


def extract_number(text: str, first: bool = False) -> str:
    found = numbers(text)
    if not found:
        return ""
    return found[0] if first else found[-1]


def extract_label(text: str, labels: Sequence[str]) -> str:
    """The label mentioned first; at the same position the longer one ('not_entailment' over
    'not'). '' when none is."""
    best: tuple[int, int, str] | None = None
    for label in labels:
        m = re.search(rf"(?<!\w){re.escape(label)}(?!\w)", text, flags=re.IGNORECASE)
        if m and (best is None or (m.start(), -len(label)) < best[:2]):
            best = (m.start(), -len(label), label)
    return best[2] if best else ""


def extract_text(text: str) -> str:
    """The first line with a letter or digit in it, without a leading ':' (models often write
    "the answer is:" and put the answer on the next line) or a trailing full stop."""
    for line in text.splitlines():
        line = line.strip().lstrip(":").strip()
        if any(c.isalnum() for c in line):
            return line[:-1].rstrip() if line.endswith(".") else line
    return ""


def extract_answer(text: str, kind: str, labels: Sequence[str] | None = None, first: bool = False) -> str:
    """The answer in `text` for an answer type ('number', 'label' or 'text'); '' if none."""
    if kind == "number":
        return extract_number(text, first)
    if kind == "label":
        return extract_label(text, labels or ())
    return extract_text(text)


def vote(answers: Sequence[str], logprobs: Sequence[float]) -> str:
    """Majority vote over the paths' answers (Wang et al.). Equal answers are counted together
    after normalisation; a tie goes to the answer whose paths have the higher summed
    log-probability (tied answers have as many paths each, so this compares mean path quality).
    Paths without an answer do not vote, unless no path has one."""
    counts: dict[str, int] = defaultdict(int)
    mass: dict[str, float] = defaultdict(float)
    first: dict[str, str] = {}
    for answer, lp in zip(answers, logprobs):
        if not answer:
            continue
        key = normalize(answer)
        counts[key] += 1
        mass[key] += lp
        first.setdefault(key, answer)
    if not counts:
        return ""
    winner = max(counts, key=lambda k: (counts[k], mass[k]))
    return first[winner]
