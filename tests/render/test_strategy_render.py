"""Reasoning layouts, strategy in the hash, nearest-neighbour selection and per-example prompts."""
import hashlib
import json
from dataclasses import replace

import numpy as np
import pytest

from promptsearch.config import load_task
from promptsearch.data.dataset import Example
from promptsearch.errors import ConfigError
from promptsearch.render import RATIONALE, Candidate, Prompt, render
from promptsearch.render.demos import nearest_indices
from promptsearch.render.dynamic import DynamicPrompt, NearestDemos
from promptsearch.strategies import DIRECT, STRATEGIES, strategy_from_params
from promptsearch.strategies.least_to_most import subquestions
from promptsearch.strategies.reasoning import clean_rationale
from promptsearch.strategies.steps import answer_trigger

TRIGGER = "Let's think step by step."


def _ex(review, label, rationale=None):
    fields = {"review": review, "label": label}
    if rationale:
        fields[RATIONALE] = rationale
    return Example(id=review, fields=fields)


def _strategy(name, **kw):
    return STRATEGIES.get(name)(**kw)


def _cand(strategy="zero_shot_cot", demos=(), trigger=TRIGGER, template="plain", **kw):
    s = _strategy(strategy, **kw)
    return Candidate(instruction="Classify.", demos=tuple(demos), cot_trigger=trigger, template=template,
                     params=s.to_params(), strategy=s)


def test_zero_shot_cot_layout_ends_where_the_model_starts(tiny_task):
    p = render(_cand(), load_task(tiny_task))
    assert p.with_placeholders() == "Classify.\n\nReview: {review}\nAnswer: Let's think step by step."
    assert p.strategy.name == "zero_shot_cot"


def test_few_shot_cot_demos_carry_rationale_and_answer_sentence(tiny_task):
    demo = _ex("great", "positive", "Great is a\n<<1+1=2>>happy word.\n#### positive")
    p = render(_cand("few_shot_cot", [demo]), load_task(tiny_task))
    assert p.with_placeholders() == (
        "Classify.\n\nReview: great\nAnswer: Let's think step by step. Great is a happy word.\n"
        "Therefore, the answer (negative or positive) is positive.\n\n"
        "Review: {review}\nAnswer: Let's think step by step.")


def test_least_to_most_ignores_the_trigger(tiny_task):
    p = render(_cand("least_to_most"), load_task(tiny_task))
    assert p.with_placeholders().endswith("Review: {review}\nAnswer:")


def test_chat_reasoning_puts_the_trigger_in_the_assistant_turn(tiny_task, fake_lm):
    demo = _ex("great", "positive", "It is happy.")
    p = render(_cand("few_shot_cot", [demo], template="chat"), load_task(tiny_task), fake_lm.apply_chat_template)
    assert p.with_placeholders().endswith("<user>Review: {review}</user>\n<assistant>Let's think step by step.")
    assert ("<assistant>Let's think step by step. It is happy.\nTherefore, the answer (negative or positive) "
            "is positive.</assistant>") in p.text
    assert p.answer_prefix == ""


def test_direct_hash_unchanged_and_strategy_settings_change_it(tiny_task):
    task = load_task(tiny_task)
    direct = render(Candidate(instruction="Classify.", demos=(), cot_trigger=TRIGGER, template="plain",
                              strategy=DIRECT), task)
    # the hash a direct template had before strategies existed (stored searches and caches stay valid)
    blob = json.dumps([direct.text, " ", ["review"]], ensure_ascii=False)
    assert direct.hash == hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]
    assert direct.hash == render(Candidate(instruction="Classify.", demos=(), cot_trigger=TRIGGER, template="plain",
                                           params={"strategy": "direct"},
                                           strategy=strategy_from_params({"strategy": "direct"})), task).hash
    hashes = {render(_cand(s, **kw), task).hash for s, kw in [
        ("zero_shot_cot", {}), ("self_consistency", {"samples": 5, "temperature": 0.7}),
        ("self_consistency", {"samples": 3, "temperature": 0.7}),
        ("self_consistency", {"samples": 5, "temperature": 1.0}),
        ("zero_shot_cot", {"max_tokens": 64}), ("zero_shot_cot", {"label_answer": "extract"})]}
    assert len(hashes) == 6 and direct.hash not in hashes


def test_strategy_params_round_trip():
    for s in (DIRECT, _strategy("zero_shot_cot", max_tokens=64, label_answer="extract"),
              _strategy("self_consistency", max_tokens=32, samples=5, temperature=0.7, seed=3),
              _strategy("least_to_most", max_subquestions=2)):
        assert strategy_from_params(s.to_params()) == s
    assert strategy_from_params({}) == DIRECT  # a candidate stored before strategies
    with pytest.raises(ConfigError, match="'tree' is not a known strategy; allowed: direct, zero_shot_cot"):
        strategy_from_params({"strategy": "tree"})


def test_answer_triggers_by_type(tiny_task, tmp_path):
    task = load_task(tiny_task)
    assert answer_trigger(task) == "Therefore, the answer (negative or positive) is"
    assert answer_trigger(replace(task, labels=None, metric="numeric")) == "Therefore, the answer (arabic numerals) is"
    assert answer_trigger(replace(task, labels=None, metric="exact_match")) == "Therefore, the answer is"


def test_rationale_cleaning_and_subquestions():
    assert clean_rationale("a <<2*3=6>>6\n\n b\n#### 6") == "a 6 b"
    assert subquestions(" How many apples?\n2. How many pears?\n3) Total?\n4. More?", 3) == [
        "How many apples?", "How many pears?", "Total?"]
    assert subquestions("\n\n", 3) == []


def test_nearest_indices_order_ties_and_exclusion():
    pool = np.array([[1, 0], [0.8, 0.6], [0, 1], [1, 0]], dtype=np.float32)
    q = np.array([1, 0], dtype=np.float32)
    assert nearest_indices(pool, q, 2) == [0, 3]  # a tie goes to the earlier row
    assert nearest_indices(pool, q, 3, "similar_last") == [1, 3, 0]
    assert nearest_indices(pool, q, 2, exclude=[0]) == [3, 1]
    assert nearest_indices(pool, q, 0) == [] and nearest_indices(pool[:0], q, 2) == []


def _embed(texts):
    """Toy embedder: a one-hot of the first letter."""
    out = np.zeros((len(texts), 26), dtype=np.float32)
    for i, t in enumerate(texts):
        out[i, ord(t.lower()[0]) - 97] = 1
    return out


def _dynamic(task, pool, k=1, order="drawn", strategy="direct"):
    near = NearestDemos(pool=tuple(pool), vectors=_embed([e["review"] for e in pool]), embed=_embed, embedder="toy",
                        k=k, order=order)
    return render(replace(_cand(strategy) if strategy != "direct" else Candidate(instruction="Classify.", demos=(),
                                                                                 cot_trigger=None, template="plain",
                                                                                  strategy=DIRECT),
                          nearest=near), task)


def test_dynamic_prompt_gives_each_example_its_own_demos(tiny_task):
    task = load_task(tiny_task)
    pool = [_ex("apple pie", "positive"), _ex("bad beans", "negative"), _ex("cold coffee", "negative")]
    p = _dynamic(task, pool)
    assert isinstance(p, DynamicPrompt) and isinstance(p, Prompt)
    a, b, again = p.per_example([_ex("always", "positive"), _ex("coffee is cold", "negative"), _ex("ant", "x")])
    assert "Review: apple pie\nLabel: positive" in a.fill(_ex("always", "positive"))
    assert "Review: cold coffee" in b.text and "apple" not in b.text
    assert a.hash == again.hash != b.hash  # same demos, same template
    assert p.hash not in (a.hash, b.hash)
    assert p.with_placeholders().startswith("[demonstrations: the 1 of 3 pool examples nearest")
    # the input itself, when it is in the pool, is never its own demonstration
    (own,) = p.per_example([pool[0]])
    assert "apple pie\nLabel" not in own.text


def test_dynamic_prompt_hash_covers_pool_k_and_order(tiny_task):
    task = load_task(tiny_task)
    pool = [_ex("apple pie", "positive"), _ex("bad beans", "negative")]
    base = _dynamic(task, pool).hash
    assert base == _dynamic(task, list(pool)).hash
    assert len({base, _dynamic(task, pool, k=2).hash, _dynamic(task, pool, order="similar_last").hash,
                _dynamic(task, pool[:1]).hash, _dynamic(task, pool, strategy="few_shot_cot").hash}) == 5
