"""Usage counters on the local engine (lm/usage.py): what budgets are spent in, counted the way
an API bills (a call per scored continuation or generated sequence; tokens as sent alone)."""
from promptsearch.lm import plan
from promptsearch.lm.base import GenerateRequest, LoglikelihoodRequest
from promptsearch.lm.usage import USAGE_KEYS, usage_since, usage_snapshot


def test_loglikelihood_counts_a_call_per_request_and_its_tokens(smollm):
    requests = [LoglikelihoodRequest("Review: great food.\nLabel:", f" {label}") for label in ("positive", "negative")]
    requests.append(LoglikelihoodRequest("Another context entirely:", " yes"))
    before = usage_snapshot(smollm)
    assert set(before) == set(USAGE_KEYS)
    smollm.loglikelihood(requests)
    used = usage_since(smollm, before)
    tokens = sum(len(c) + len(t) for c, t in (plan.encode_pair(smollm.tok_encode, r.context, r.continuation, [1])
                                              for r in requests))
    assert used["calls"] == 3 and used["prompt_tokens"] == tokens and used["completion_tokens"] == 0
    assert used["seconds"] > 0 and used["cost_usd"] == 0


def test_generate_counts_every_sequence_and_the_generated_tokens(smollm):
    before = usage_snapshot(smollm)
    out = smollm.generate([GenerateRequest(context="The capital of France is", max_new_tokens=5),
                           GenerateRequest(context="Count: one, two,", max_new_tokens=4, temperature=0.8,
                                           num_return_sequences=2, stop=())])
    used = usage_since(smollm, before)
    context = len(smollm.tok_encode("The capital of France is")) + 2 * len(smollm.tok_encode("Count: one, two,"))
    assert used["calls"] == 3 and used["prompt_tokens"] == context
    assert used["completion_tokens"] == sum(smollm.count_tokens(t) for r in out for t in r.texts) > 0
