"""HFLM on the real embedded model: exact log-probs, exact greedy generation, OOM back-off."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from promptsearch.lm import generation, plan
from promptsearch.lm.base import LOGPROB_TOLERANCE, GenerateRequest, LoglikelihoodRequest

DEMOS = ("Classify the sentiment of each review.\n\n"
         "Review: a gorgeous, witty, seductive movie.\nSentiment: positive\n\n"
         "Review: the film is strictly routine and dull.\nSentiment: negative\n\n"
         "Review: one of the year's most intriguing movie experiences.\nSentiment: positive\n\n"
         "Review: it's a bad sign when you're rooting for the film to end.\nSentiment: negative\n\n")
SENTENCES = ["what a wonderful movie", "i hated every minute of it .", "meh",
             "a superb cast and a script that sings , one of the best films of the year"]
LABELS = [" positive", " negative", " not sure at all"]  # the last is several tokens


def requests(head: str) -> list[LoglikelihoodRequest]:
    return [LoglikelihoodRequest(f"{head}Review: {s}\nSentiment:", y) for s in SENTENCES for y in LABELS]


_naive_cache: dict = {}


def naive(lm, r: LoglikelihoodRequest) -> tuple[float, int, bool]:
    """The reference: one request, full prompt, plain forward, all logits, log_softmax.
    Tokens as lm-eval splits them (trailing whitespace of the context goes to the continuation)."""
    key = (lm.name, r)
    if key not in _naive_cache:
        ctx, cont = plan.encode_pair(lm.tok_encode, r.context, r.continuation, [lm.tokenizer.bos_token_id])
        whole = ctx + cont
        with torch.inference_mode():
            logits = lm.model(input_ids=torch.tensor([whole])).logits[0]
        logp = F.log_softmax(logits.float(), -1)
        lps = [logp[len(ctx) - 1 + j, t] for j, t in enumerate(cont)]
        greedy = all(logp[len(ctx) - 1 + j].argmax() == t for j, t in enumerate(cont))
        _naive_cache[key] = (float(sum(lps)), len(cont), bool(greedy))
    return _naive_cache[key]


@pytest.mark.parametrize("head", ["", DEMOS], ids=["no-prefix", "demos"])
@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_loglikelihood_equals_naive(lm, monkeypatch, head, batch_size):
    monkeypatch.setattr(lm, "batch_size", batch_size)
    reqs = requests(head)
    got = lm.loglikelihood(reqs)
    for r, g in zip(reqs, got):
        lp, n, greedy = naive(lm, r)
        assert g.num_tokens == n and g.is_greedy == greedy
        assert abs(g.logprob - lp) < LOGPROB_TOLERANCE, (r, g.logprob, lp)
    assert max(g.num_tokens for g in got) > 1


def test_shared_prefix_runs_once_and_the_head_only_where_needed(lm):
    reqs = requests(DEMOS)
    multi = naive(lm, reqs[2])[1]  # tokens in the multi-token label
    lm.stats.clear()
    lm.loglikelihood(reqs)
    assert lm.stats["prefixes"] == 1
    assert lm.stats["prefix_tokens"] >= len(lm.tok_encode(DEMOS)) - 1
    # the one-token labels are read at the context's last position, which the multi-token
    # label's row covers too: one row per sentence, one LM-head row per predicted token
    assert lm.stats["head_rows"] == len(SENTENCES) * multi


@pytest.mark.parametrize("packs", [True, False], ids=["packed", "one-per-row"])
def test_packed_lanes_equal_naive(lm, monkeypatch, packs):
    # short suffixes share lanes with the long one's length; each must compute what it does alone
    assert lm.packs  # the self-check at load accepts SmolLM2 (sdpa, no sliding window)
    monkeypatch.setattr(lm, "packs", packs)
    sentences = [*SENTENCES, "ok", "bad .", "fine", "not for me", "loved it"]
    reqs = [LoglikelihoodRequest(f"{DEMOS}Review: {s}\nSentiment:", y) for s in sentences for y in LABELS[:2]]
    lm.stats.clear()
    got = lm.loglikelihood(reqs)
    assert lm.stats["suffixes"] == len(sentences)
    assert (lm.stats["lanes"] < len(sentences)) == packs
    assert lm.stats["padded_tokens"] < (1.3 if packs else 3) * lm.stats["suffix_tokens"]
    for r, g in zip(reqs, got):
        lp, _, greedy = naive(lm, r)
        assert abs(g.logprob - lp) < LOGPROB_TOLERANCE and g.is_greedy == greedy, (r, g.logprob, lp)


def test_prefix_boundary_inside_a_merged_token(lm):
    # "x\n\n" ends in the single token "\n\n", but "x\n\nReview" is "x","\n","\n","Review": a
    # string-level prefix would cache the wrong tokens. Mixed endings force the boundary there.
    assert lm.tok_encode("x\n\n")[-1] not in lm.tok_encode("x\n\nReview")
    head = DEMOS + "x\n\n"
    reqs = [LoglikelihoodRequest(head + tail, " positive") for tail in ("", "Review: ok", "\nNote:", "Review")]
    for r, g in zip(reqs, lm.loglikelihood(reqs)):
        assert abs(g.logprob - naive(lm, r)[0]) < LOGPROB_TOLERANCE


def test_calls_mixing_prompts_and_odd_requests(lm):
    reqs = requests(DEMOS)[:6] + requests("Be brief.\n\n")[:6] + [
        LoglikelihoodRequest("", "Hello"),  # empty context: conditioned on the BOS token (lm-eval)
        LoglikelihoodRequest("Say hi:  ", "hi"),  # trailing spaces move onto the continuation
        LoglikelihoodRequest("Nothing", ""),  # empty continuation: log-prob 0
    ]
    got = lm.loglikelihood(reqs)
    for r, g in zip(reqs[:-3], got):
        assert abs(g.logprob - naive(lm, r)[0]) < LOGPROB_TOLERANCE
    assert got[-1].logprob == 0.0 and got[-1].num_tokens == 0
    assert got[-3].num_tokens >= 1 and got[-2].num_tokens >= 1


def test_prefix_cache_is_not_mutated(lm):
    kv = lm.prefix_kv(lm.tok_encode(DEMOS))
    before = [(k.clone(), v.clone()) for k, v in kv]
    with torch.inference_mode():
        lm.hidden_states(kv, torch.tensor([[1, 2, 3], [4, 5, 6]]))
    assert all(torch.equal(k, k0) and torch.equal(v, v0) for (k, v), (k0, v0) in zip(kv, before))


def test_out_of_memory_halves_the_batch(lm, monkeypatch):
    reqs = requests(DEMOS)
    want = lm.loglikelihood(reqs)
    monkeypatch.setattr(lm, "batch_size", 8)
    real, sizes = lm._score_batch, []

    def flaky(kv, p, rows, out):  # CUDA would fail on big batches; inject that on CPU
        sizes.append(len(rows))
        if len(rows) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(kv, p, rows, out)

    monkeypatch.setattr(lm, "_score_batch", flaky)
    got = lm.loglikelihood(reqs)
    assert [g.num_tokens for g in got] == [w.num_tokens for w in want]
    assert all(abs(g.logprob - w.logprob) < LOGPROB_TOLERANCE for g, w in zip(got, want))
    assert sizes[0] > 2 and max(sizes[1:]) <= 4 and lm.batch_size <= 2


def test_other_errors_are_not_retried(lm, monkeypatch):
    def broken(*a):
        raise ValueError("a bug")

    monkeypatch.setattr(lm, "_score_batch", broken)
    with pytest.raises(ValueError):
        lm.loglikelihood(requests("")[:2])


# ----------------------------------------------------------------------------- generation

def hf_greedy(lm, context: str, max_new_tokens: int) -> str:
    ids = torch.tensor([lm.tok_encode(context)])
    out = lm.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                            do_sample=False, pad_token_id=lm.pad_id)
    return lm.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


GEN = [GenerateRequest(context=DEMOS + f"Review: {s}\nSentiment:", max_new_tokens=6,
                       stop=("\n",)) for s in SENTENCES] + [
    GenerateRequest(context="Once upon a time", max_new_tokens=12, stop=()),
    GenerateRequest(context="The capital of France is", max_new_tokens=12, stop=(".", ",")),
]


def test_greedy_generation_equals_one_at_a_time_hf_generate(lm):
    got = lm.generate(GEN)
    for r, g in zip(GEN, got):
        ref = hf_greedy(lm, r.context, r.max_new_tokens)
        cut = min([ref.find(s) for s in r.stop if s in ref] + [len(ref)])
        assert g.texts == [ref[:cut]], (r.context[-30:], g.texts, ref)
        assert len(g.logprobs) == 1 and g.logprobs[0] <= 0


def test_batched_generation_equals_single(lm, monkeypatch):
    monkeypatch.setattr(lm, "batch_size", 2)  # batches of 2, and a short last one
    single = [lm.generate([r])[0].texts for r in GEN[-3:]]
    assert [g.texts for g in lm.generate(GEN[-3:])] == single


def test_stop_strings_cut_at_the_earliest(lm):
    r = GenerateRequest(context="Count: one, two, three, four, five,", max_new_tokens=16, stop=("seven", ","))
    text = lm.generate([r])[0].texts[0]
    full = lm.generate([GenerateRequest(context=r.context, max_new_tokens=16, stop=())])[0].texts[0]
    cut = min(full.find(s) for s in r.stop if s in full)
    assert "," in full and text == full[:cut] and "," not in text


def test_sampling_is_seeded_and_returns_n_sequences(lm):
    r = GenerateRequest(context="Tell me a story:", max_new_tokens=5, temperature=1.0, num_return_sequences=3, seed=7,
                        stop=())
    other = GenerateRequest(context="Hi", max_new_tokens=2, stop=())
    a, b = lm.generate([r])[0], lm.generate([other, r])[1]  # batch company does not matter
    assert len(a.texts) == 3 and len(set(a.texts)) > 1 and a.texts == b.texts
    c = lm.generate([GenerateRequest(context=r.context, max_new_tokens=5, stop=(), temperature=1.0,
                                     num_return_sequences=3, seed=8)])[0]
    assert c.texts != a.texts


def test_generation_out_of_memory_backs_off(lm, monkeypatch):
    monkeypatch.setattr(lm, "batch_size", 8)
    reqs = GEN[-3:]
    want = [g.texts for g in lm.generate(reqs)]
    real = generation._decode_batch

    def flaky(lm_, kv, p, rows):
        if len(rows) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return real(lm_, kv, p, rows)

    monkeypatch.setattr(generation, "_decode_batch", flaky)
    assert [g.texts for g in lm.generate(reqs)] == want
    assert lm.batch_size == 1


# ----------------------------------------------------------------------------- small API

def test_chat_template_count_tokens_max_length(lm):
    text = lm.apply_chat_template([{"role": "user", "content": "Hi"}])
    assert text.endswith("<|im_start|>assistant\n") and "Hi" in text
    assert lm.count_tokens("Review: a\n") == 4
    assert lm.max_length == 8192
    assert lm.name == "SmolLM2-135M-Instruct.Q4_1@fp32"


@pytest.mark.parametrize("attn, window, packs", [("sdpa", None, True), ("eager", None, False),
                                                 ("sdpa", 16, False)])
def test_packing_only_where_the_attention_honours_the_mask(lm, attn, window, packs):
    # eager attention adds a mask, so it misreads a boolean one; a sliding window would be
    # overridden by the lane mask: both fall back to one suffix per row, and still score right
    from transformers import MistralConfig, MistralForCausalLM

    from promptsearch.lm.hf import HFLM

    cfg = MistralConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                        num_key_value_heads=2, vocab_size=len(lm.tokenizer), sliding_window=window,
                        attn_implementation=attn)
    torch.manual_seed(0)
    tiny = HFLM(MistralForCausalLM(cfg), lm.tokenizer, name=f"tiny-{attn}-{window}")
    assert tiny.packs == packs
    reqs = [LoglikelihoodRequest(f"{DEMOS}Review: {s}\nSentiment:", " positive") for s in [*SENTENCES, "ok"]]
    for r, g in zip(reqs, tiny.loglikelihood(reqs)):
        assert abs(g.logprob - naive(tiny, r)[0]) < LOGPROB_TOLERANCE
