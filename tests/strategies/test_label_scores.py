"""Label tasks: a strategy that ranks the labels once reports every label's ranking score with its
answer (what `promptsearch run` turns into probabilities); voting over several paths reports none."""
import math

import pytest

from promptsearch.config import load_task
from promptsearch.data import load_split
from promptsearch.lm.base import GenerateResult
from promptsearch.render.prompt import Candidate, render_template
from promptsearch.strategies import Decoding, Direct, LeastToMost, SelfConsistency, ZeroShotCoT


@pytest.mark.parametrize("strategy, scored", [
    (Direct(), True), (ZeroShotCoT(max_tokens=8), True), (LeastToMost(max_tokens=8), True),
    (SelfConsistency(max_tokens=8, samples=1), True),
    (SelfConsistency(max_tokens=8, samples=3, temperature=0.7), False),
    (ZeroShotCoT(max_tokens=8, label_answer="extract"), False),
])
def test_label_scores_follow_the_ranking(tiny_task, fake_lm, strategy, scored):
    scripted = fake_lm.generate

    def generate(requests):  # as many paths as asked for (the fake gives one)
        return [GenerateResult(texts=r.texts * q.num_return_sequences) for q, r in zip(requests, scripted(requests))]
    fake_lm.generate = generate
    task = load_task(tiny_task)
    examples = load_split(task, "dev")
    template = render_template(Candidate(instruction="Classify as {labels}.", cot_trigger="Think.",
                                         strategy=strategy), task)
    for normalize in (False, True):
        traces = strategy.run(fake_lm, task, [(template, e) for e in examples], Decoding(16, normalize))
        for tr in traces:
            if not scored:
                assert tr.label_scores is None
                continue
            assert len(tr.label_scores) == len(task.labels)
            assert task.labels[max(range(len(task.labels)), key=tr.label_scores.__getitem__)] == tr.prediction
            assert all(math.isfinite(s) for s in tr.label_scores)
