"""Metrics: each compares a prediction string with the gold string and returns a score in [0, 1]."""
from __future__ import annotations

import re
import string
from typing import Callable

_PUNCT = string.punctuation + "“”‘’«»…"
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def normalize(text: str) -> str:
    """Lower-case, collapse whitespace, strip surrounding punctuation."""
    return " ".join(text.lower().split()).strip(_PUNCT + " ")


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize(prediction) == normalize(gold))


def contains(prediction: str, gold: str) -> float:
    return float(normalize(gold) in normalize(prediction))


def last_number(text: str) -> float | None:
    """The last number in `text` ("1,234.5" -> 1234.5); None when there is none."""
    found = _NUMBER.findall(text)
    if not found:
        return None
    try:
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None


def numeric(prediction: str, gold: str) -> float:
    p, g = last_number(prediction), last_number(gold)
    return float(p is not None and g is not None and abs(p - g) <= 1e-6 * max(1.0, abs(g)))


METRICS: dict[str, Callable[[str, str], float]] = {
    "accuracy": exact_match,  # for label tasks the prediction is the top-ranked label itself
    "exact_match": exact_match,
    "contains": contains,
    "numeric": numeric,
}


def get_metric(name: str) -> Callable[[str, str], float]:
    return METRICS[name]
