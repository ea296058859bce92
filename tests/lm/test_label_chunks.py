"""Label scoring in bounded chunks (issue 25, class 7): HFLM.loglikelihood plans at most
LOGLIK_CHUNK pairs at a time, and the results are those of one big call (log-probs are exact to
~1e-4 across batch shapes, the engine's promise)."""
from __future__ import annotations

import promptsearch.lm.hf as hf
from promptsearch.lm.base import LoglikelihoodRequest


def test_chunks_give_the_results_of_one_call(smollm, monkeypatch):
    context = "Classify the review.\n\nReview: the soup was cold but the staff were lovely\nLabel:"
    requests = [LoglikelihoodRequest(context, f" category {i}") for i in range(13)]
    requests += [LoglikelihoodRequest("Another prompt entirely.\nLabel:", " yes")]
    whole = smollm.loglikelihood(requests)
    planned: list[int] = []
    inner = smollm._loglikelihood

    def spy(pairs):
        planned.append(len(pairs))
        return inner(pairs)

    monkeypatch.setattr(hf, "LOGLIK_CHUNK", 5)
    monkeypatch.setattr(smollm, "_loglikelihood", spy)
    chunked = smollm.loglikelihood(requests)
    assert planned == [5, 5, 4]  # never more than the chunk in one plan
    for a, b in zip(whole, chunked):
        assert abs(a.logprob - b.logprob) < 1e-4 and a.num_tokens == b.num_tokens and a.is_greedy == b.is_greedy
