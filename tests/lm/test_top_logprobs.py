"""GenerateRequest.top_logprobs on the in-process engine: the first-token label mode reads it."""
from promptsearch.lm.base import GenerateRequest, LoglikelihoodRequest

CONTEXTS = ["Review: the soup was cold and the waiter rude\nSentiment:", "The capital of France is"]


def test_top_logprobs_are_the_next_token_distribution(lm):
    """Each listed alternative's log-prob is log P(token | context) as loglikelihood scores it
    (within 1e-4: the engine's promise across batch shapes); best first; the text is unchanged."""
    asked = lm.generate([GenerateRequest(context=c, max_new_tokens=3, stop=(), top_logprobs=5) for c in CONTEXTS])
    plain = lm.generate([GenerateRequest(context=c, max_new_tokens=3, stop=()) for c in CONTEXTS])
    for context, a, p in zip(CONTEXTS, asked, plain):
        assert a.texts == p.texts and p.tokens == []
        assert "".join(t.token for t in a.tokens) == a.texts[0] and len(a.tokens) == 3
        first = a.tokens[0]
        assert len(first.top) == 5 and list(first.top.values()) == sorted(first.top.values(), reverse=True)
        assert max(first.top, key=first.top.__getitem__) == first.token
        scored = lm.loglikelihood([LoglikelihoodRequest(context, t) for t in first.top])
        for (token, value), s in zip(first.top.items(), scored):
            if s.num_tokens == 1:  # a token text that re-encodes as itself
                assert abs(s.logprob - value) <= 1e-4, (token, s.logprob, value)
