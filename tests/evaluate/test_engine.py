"""The strategy engine and the evaluator's cache, with a scripted LM that records every request."""
import re
from dataclasses import replace

import numpy as np
import pytest

from promptsearch.config import load_task
from promptsearch.data.dataset import Example
from promptsearch.evaluate import Evaluator
from promptsearch.lm.base import LM, GenerateResult, LoglikelihoodResult
from promptsearch.render import Candidate, render
from promptsearch.render.dynamic import NearestDemos
from promptsearch.strategies import DIRECT, STRATEGIES, Decoding
from promptsearch.strategies.reasoning import VERSION


class ScriptLM(LM):
    """Reasoning paths come from `paths` (text, logprob) in order; the answer step answers the
    last number of its context; sub-questions are answered with their own number."""

    name = "script"

    def __init__(self, paths=(("so 7", -1.0),)):
        self.paths, self.gen, self.ll = list(paths), [], []

    def generate(self, requests):
        self.gen.append(list(requests))
        out = []
        for r in requests:
            if r.context.endswith(" is"):
                nums = re.findall(r"\d+", r.context.split("Answer:")[-1])
                out.append(GenerateResult([f" {nums[-1] if nums else 'none'}."], [-0.5]))
            elif r.context.endswith("1."):
                out.append(GenerateResult([" What is 2?\n2. What is 3?\n\n4. ignored"], [-1.0]))
            elif r.context.endswith("A:"):
                q = r.context.rsplit("Q:", 1)[1]
                out.append(GenerateResult([f" {re.findall(r'[0-9]+', q)[-1]}"], [-1.0]))
            else:
                n = r.num_return_sequences
                picked = [self.paths[k % len(self.paths)] for k in range(n)]
                out.append(GenerateResult([t for t, _ in picked], [lp for _, lp in picked]))
        return out

    def loglikelihood(self, requests):
        self.ll.append(list(requests))
        # the label written last in the reasoning wins
        return [LoglikelihoodResult(-1.0 if r.continuation.strip() in r.context.rsplit("\n", 2)[-2] else -5.0,
                                    1, True) for r in requests]


@pytest.fixture
def math_task(tiny_task):
    return replace(load_task(tiny_task), labels=None, metric="numeric")


def _prompt(task, strategy, **kw):
    s = STRATEGIES.get(strategy)(**kw)
    return render(Candidate(instruction="Solve.", demos=(), cot_trigger="Let's think step by step.", template="plain",
                            params=s.to_params(), strategy=s), task)


def run_strategy(lm, task, strategy, items):
    return strategy.run(lm, task, items, Decoding())


def _examples(n=2, gold="7"):
    return [Example(f"e{i}", {"review": f"question {i}", "label": gold}) for i in range(n)]


def test_self_consistency_samples_in_one_batched_call_and_votes(math_task):
    lm = ScriptLM([("so 7", -1.0), ("so 8", -2.0), ("so 8", -2.5), ("so 7", -1.5)])
    p = _prompt(math_task, "self_consistency", samples=4, temperature=0.7, max_tokens=20)
    traces = run_strategy(lm, math_task, p.strategy, [(p, e) for e in _examples(3)])
    reasoning, answers = lm.gen
    assert len(reasoning) == 3 and all(r.num_return_sequences == 4 and r.temperature == 0.7
                                       and r.max_new_tokens == 20 for r in reasoning)
    assert len(answers) == 12  # every path answered, in one call
    assert all(a.context.endswith("so 7\nTherefore, the answer (arabic numerals) is") or
               a.context.endswith("so 8\nTherefore, the answer (arabic numerals) is") for a in answers)
    # 2 votes each: 7's paths sum to -2.5 - 1.0 (answers) = -3.5, 8's to -4.5 - 1.0: 7 wins
    assert [t.prediction for t in traces] == ["7"] * 3
    assert traces[0].rationale == "so 7" and traces[0].logprob == pytest.approx(-1.5)


def test_zero_shot_cot_is_one_greedy_path_then_extraction(math_task):
    lm = ScriptLM([(" 3 + 4 = 7", -1.0)])
    p = _prompt(math_task, "zero_shot_cot", max_tokens=16)
    (t,) = run_strategy(lm, math_task, p.strategy, [(p, _examples(1)[0])])
    (r,), (a,) = lm.gen
    assert r.temperature == 0 and r.num_return_sequences == 1 and "\n\n" in r.stop
    assert r.context.endswith("Answer: Let's think step by step.")
    assert a.context == r.context + " 3 + 4 = 7\nTherefore, the answer (arabic numerals) is"
    assert t.prediction == "7" and t.rationale == "3 + 4 = 7"


def test_an_empty_path_is_asked_again_after_the_blank_line(math_task):
    lm = ScriptLM([("", -1.0)])
    lm.paths = None

    def generate(requests, _orig=ScriptLM.generate):
        for r in requests:
            if not r.context.endswith(" is"):
                lm.paths = [("so 7", -1.0)] if r.context.endswith("\n\n") else [("", 0.0)]
        return _orig(lm, requests)
    lm.generate = generate
    p = _prompt(math_task, "zero_shot_cot")
    (t,) = run_strategy(lm, math_task, p.strategy, [(p, _examples(1)[0])])
    assert len(lm.gen) == 3 and lm.gen[1][0].context.endswith("step by step.\n\n")
    assert t.prediction == "7" and t.rationale == "so 7"


def test_labels_ranked_after_the_reasoning(tiny_task):
    task = load_task(tiny_task)
    lm = ScriptLM([(" it sounds negative", -1.0)])
    p = _prompt(task, "zero_shot_cot")
    (t,) = run_strategy(lm, task, p.strategy, [(p, Example("x", {"review": "meh", "label": "negative"}))])
    (reqs,) = lm.ll
    assert [r.continuation for r in reqs] == [" negative", " positive"]
    assert reqs[0].context.endswith("it sounds negative\nTherefore, the answer (negative or positive) is")
    assert t.prediction == "negative"


def test_least_to_most_answers_subquestions_in_order(math_task):
    lm = ScriptLM()
    p = _prompt(math_task, "least_to_most", max_subquestions=3)
    (t,) = run_strategy(lm, math_task, p.strategy, [(p, _examples(1)[0])])
    decompose, first, second, final = lm.gen
    assert decompose[0].context.endswith("Answer: Let's break this problem down into simpler sub-questions, "
                                         "one per line:\n1.")
    assert first[0].context.endswith("one by one.\nQ: What is 2?\nA:")
    assert second[0].context.endswith("Q: What is 2?\nA: 2\nQ: What is 3?\nA:")  # the answer is appended
    assert final[0].context.endswith("A: 3\nTherefore, the answer (arabic numerals) is")
    assert t.prediction == "3" and "Q: What is 3?" in t.rationale


class MemoCache:
    def __init__(self):
        self.rows = {}

    def get(self, model, prompt_hash, decoding, ids):
        return {i: self.rows[(model, prompt_hash, decoding, i)] for i in ids
                if (model, prompt_hash, decoding, i) in self.rows}

    def put(self, model, prompt_hash, decoding, results):
        for r in results:
            self.rows[(model, prompt_hash, decoding, r.example_id)] = r


def test_cache_key_carries_the_strategy(math_task):
    cache, lm = MemoCache(), ScriptLM()
    ev = Evaluator(lm, math_task, cache)
    ex = _examples(2)
    ev.evaluate(_prompt(math_task, "zero_shot_cot"), ex)
    calls = len(lm.gen)
    assert ev.evaluate(_prompt(math_task, "zero_shot_cot"), ex).computed == 0 and len(lm.gen) == calls
    sc = ev.evaluate(_prompt(math_task, "self_consistency", samples=3, temperature=0.5), ex)
    assert sc.computed == 2
    keys = {k[2] for k in cache.rows}
    assert any(k.startswith(f"{VERSION}:zero_shot_cot") for k in keys) and any("n3:t0.5" in k for k in keys)


def _embed(texts):
    out = np.zeros((len(texts), 26), dtype=np.float32)
    for i, t in enumerate(texts):
        out[i, ord(t[0]) - 97] = 1
    return out


def test_per_example_prompts_are_cached_per_example(math_task):
    """Nearest-neighbour demos: each example's result is stored under its own template's hash, so
    a different pool (same candidate settings) never gets another prompt's cached result."""
    cache, lm = MemoCache(), ScriptLM()
    ev = Evaluator(lm, math_task, cache)

    def prompt(pool):
        near = NearestDemos(pool=tuple(pool), vectors=_embed([e["review"] for e in pool]), embed=_embed,
                            embedder="toy", k=1)
        return render(Candidate(instruction="Solve.", demos=(), cot_trigger=None, template="plain", nearest=near,
                                strategy=DIRECT), math_task)
    pool = [Example("p1", {"review": "apples 1", "label": "1"}), Example("p2", {"review": "bananas 2", "label": "2"})]
    ex = [Example("a", {"review": "add 3", "label": "3"}), Example("b", {"review": "bake 4", "label": "4"})]
    first = ev.evaluate(prompt(pool), ex)
    hashes = {k[1] for k in cache.rows}
    assert first.computed == 2 and len(hashes) == 2  # two different prompts, two hashes
    assert ev.evaluate(prompt(pool), ex).computed == 0
    changed = [pool[0], Example("p3", {"review": "berries 5", "label": "5"})]
    again = ev.evaluate(prompt(changed), ex)
    assert again.computed == 1  # "add 3" has the same neighbour; "bake 4" gets a new one
    texts = [r.context for r in lm.gen[-1]]
    assert len(texts) == 1 and "berries 5" in texts[0]
