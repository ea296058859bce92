"""The built-in metrics, one `@METRICS.register` each (imported by promptsearch/data/__init__.py).

  accuracy     label tasks: the chosen label equals a gold label exactly as declared (no case
               folding, no punctuation stripping: `-1`/`1`, `Positive`/`positive`, `C`/`C++`
               stay apart); generation tasks: exact_match, as it has always been
  exact_match  equal after lower-casing, collapsing whitespace, stripping surrounding punctuation
  contains     the normalised gold answer occurs in the normalised prediction
  numeric      the last number of the prediction equals the gold answer's last number
  f1           SQuAD token F1 (lower-case, no punctuation or articles, bag-of-tokens overlap)
  chrf         chrF (character n-gram F-score, Popović 2015) from sacrebleu, scaled to [0, 1]

Each is scored against every acceptable answer of an example; the best counts (metrics.py).
"""
from __future__ import annotations

import re
import string
from collections import Counter

from promptsearch.data.metrics import METRICS, Metric, contains, exact_match, numeric


@METRICS.register("accuracy")
class Accuracy(Metric):
    def compare(self, prediction: str, reference: str) -> float:
        if self.task.is_classification:  # the prediction is one of the labels, verbatim
            return float(prediction == reference)
        return exact_match(prediction, reference)


@METRICS.register("exact_match")
class ExactMatch(Metric):
    def compare(self, prediction: str, reference: str) -> float:
        return exact_match(prediction, reference)


@METRICS.register("contains")
class Contains(Metric):
    def compare(self, prediction: str, reference: str) -> float:
        return contains(prediction, reference)


@METRICS.register("numeric")
class Numeric(Metric):
    def compare(self, prediction: str, reference: str) -> float:
        return numeric(prediction, reference)


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def squad_tokens(text: str) -> list[str]:
    """SQuAD v1.1's answer normalisation, then whitespace tokens."""
    text = "".join(c for c in text.lower() if c not in _PUNCTUATION)
    return _ARTICLES.sub(" ", text).split()


def token_f1(prediction: str, reference: str) -> float:
    pred, gold = squad_tokens(prediction), squad_tokens(reference)
    if not pred or not gold:  # SQuAD: two empty answers agree, one empty answer scores 0
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


@METRICS.register("f1")
class F1(Metric):
    def compare(self, prediction: str, reference: str) -> float:
        return token_f1(prediction, reference)


@METRICS.register("chrf")
class ChrF(Metric):
    """sacrebleu's CHRF with its defaults (character 6-grams, beta 2), per sentence, / 100."""

    def __init__(self, task):
        super().__init__(task)
        from sacrebleu.metrics import CHRF  # imported here: only tasks that use it pay for it
        self._chrf = CHRF()

    def compare(self, prediction: str, reference: str) -> float:
        score = self._chrf.sentence_score(prediction, [reference]).score / 100.0
        return min(1.0, max(0.0, score))  # guards float noise only: the library's range is [0, 100]
