"""Reasoning strategies stop where the next example would begin in the prompt's own format
(strategies/reasoning.question_stop), not at the data's field name whatever the format."""
from pathlib import Path

import pytest

from promptsearch.config import load_task
from promptsearch.data.dataset import Example
from promptsearch.lm.base import GenerateResult
from promptsearch.render.format import PromptFormat
from promptsearch.render.prompt import Candidate, render_template
from promptsearch.strategies import STRATEGIES
from promptsearch.strategies.base import Decoding
from promptsearch.strategies.reasoning import question_stop, reasoning_stops

ROOT = Path(__file__).resolve().parents[2]
TASK = load_task(ROOT / "examples" / "review_sentiment.yaml")
DEMOS = (Example("a", {"review": "Great.", "label": "positive"}), Example("b", {"review": "Bad.", "label": "negative"}))


def _template(fmt: PromptFormat, strategy: str = "zero_shot_cot"):
    return render_template(Candidate(instruction="Classify.", demos=DEMOS, cot_trigger="Think.",
                                     strategy=STRATEGIES.get(strategy)(), format=fmt), TASK)


@pytest.mark.parametrize("fmt, stop", [
    (PromptFormat(), "\nReview:"),  # today's format: the stop it always had
    (PromptFormat(names="generic", separator=" - ", casing="upper", spacing="###", answer=None), "\nINPUT -"),
    (PromptFormat(separator=":\n", casing="lower", spacing="---"), "\nreview:"),
    (PromptFormat(names="task", custom=(("review", "Customer review"),)), "\nCustomer review:"),
])
def test_the_next_question_is_read_from_the_rendered_prompt(fmt, stop):
    template = _template(fmt)
    assert question_stop(template.text, TASK) == stop
    assert stop in template.text  # every demo opens with it: the model would write it next
    assert reasoning_stops(TASK, template.text) == ("\n\n", stop, "Therefore, the answer")


def test_no_slot_falls_back_to_the_data_name():
    assert question_stop("no input here", TASK) == "\nReview:"


class Recorder:
    """Answers every generation with a fixed text and records the requests."""

    name = "recorder"

    def __init__(self):
        self.requests = []

    def generate(self, requests):
        self.requests += list(requests)
        return [GenerateResult(texts=[" It is positive."] * r.num_return_sequences) for r in requests]

    def loglikelihood(self, requests):
        from promptsearch.lm.base import LoglikelihoodResult
        return [LoglikelihoodResult(logprob=-1.0, num_tokens=1, is_greedy=True) for _ in requests]


@pytest.mark.parametrize("strategy", ["zero_shot_cot", "least_to_most"])
def test_reasoning_requests_carry_the_formats_stop(strategy):
    fmt = PromptFormat(names="generic", separator=" - ", casing="upper", spacing="###", answer=None)
    template = _template(fmt, strategy)
    lm = Recorder()
    STRATEGIES.get(strategy)().run(lm, TASK, [(template, Example("q", {"review": "Fine.", "label": "positive"}))],
                                   Decoding())
    first = lm.requests[0]
    assert "\nINPUT -" in first.stop and "\nReview:" not in first.stop
