"""The LLM judge on the real embedded model: P(Yes) from log-likelihoods, in one batched call."""
import math
from dataclasses import replace
from pathlib import Path

import pytest

from promptsearch.config import load_task
from promptsearch.data import load_split
from promptsearch.errors import ConfigError
from promptsearch.evaluate import Evaluator
from promptsearch.evaluate.judge import LocalJudge, RemoteJudge, metric_for
from promptsearch.lm.base import LOGPROB_TOLERANCE, GenerateResult, LoglikelihoodRequest
from promptsearch.render import Candidate, render
from promptsearch.service.models import Models, command_models
from promptsearch.strategies import DIRECT

JUDGE_TASK = Path(__file__).resolve().parents[2] / "examples" / "explain_judge.yaml"


class Counting:
    """Wraps a model and counts its loglikelihood calls."""

    def __init__(self, lm):
        self.lm, self.calls = lm, 0

    def __getattr__(self, name):
        return getattr(self.lm, name)

    def loglikelihood(self, requests):
        self.calls += 1
        return self.lm.loglikelihood(requests)


def test_local_judge_reads_p_yes_from_one_batched_call(smollm):
    judge = LocalJudge(Counting(smollm))
    questions = ["Is Paris the capital of France? Reply with Yes or No.",
                 "Is two plus two equal to five? Reply with Yes or No."]
    out = judge.yes_probabilities(questions)
    assert judge.lm.calls == 1 and len(out) == 2
    (context, prefix), _ = judge.contexts(questions)
    yes, no = smollm.loglikelihood([LoglikelihoodRequest(context, prefix + "Yes"),
                                    LoglikelihoodRequest(context, prefix + "No")])
    expected = math.exp(yes.logprob) / (math.exp(yes.logprob) + math.exp(no.logprob))
    # p = sigmoid(yes - no): the two log-probs each move by at most LOGPROB_TOLERANCE between batch
    # shapes and the sigmoid's slope is at most 1/4, so p moves by at most half of it
    assert out[0][0] == pytest.approx(expected, abs=LOGPROB_TOLERANCE / 2)
    assert all(0.0 < p < 1.0 for p, _ in out)  # graded, not a 0/1 verdict


def test_judge_task_end_to_end_on_the_evaluator(smollm):
    """Without a `model` the searched model judges itself; the example task's `model: smollm2` is,
    within one command's loader, the loaded task model itself, and as the weights and rubric are
    the same, so is the identity (the cache key)."""
    task = load_task(JUDGE_TASK)
    dev = load_split(task, "dev", 2)
    prompt = render(Candidate(instruction="Answer the question in one sentence.", strategy=DIRECT), task)
    own = replace(task, judge={"rubric": task.judge["rubric"]})
    evaluator = Evaluator(smollm, own)
    ev = evaluator.evaluate(prompt, dev)
    assert len(ev.results) == 2 and all(0.0 < r.score < 1.0 for r in ev.results)
    assert all(r.feedback.startswith("judge: P(yes) = ") for r in ev.results)
    assert ev.score == pytest.approx(sum(r.score for r in ev.results) / 2)
    with command_models(Models(load=lambda spec, **o: pytest.fail(f"loaded {spec} again"))) as models:
        models.task("smollm2", smollm)
        loaded = metric_for(task, smollm)  # model: smollm2, the command's task model
        assert loaded.backend.lm is smollm and metric_for(task, smollm).backend.lm is smollm
    assert loaded.identity == evaluator.metric.identity


def test_a_judge_model_that_does_not_exist_names_the_field(tmp_path):
    task = replace(load_task(JUDGE_TASK), judge={"rubric": "r", "model": str(tmp_path / "no-judge")})
    with pytest.raises(ConfigError, match=r"explain_judge.yaml: field 'metric.judge.model': model .*no such file"):
        metric_for(task)


def test_remote_judge_reads_the_answer(fake_lm):
    class Says:
        fingerprint = "openai/judge@http://127.0.0.1:1/v1"

        def apply_chat_template(self, messages):
            return messages[0]["content"]

        def generate(self, requests):
            return [GenerateResult([" Yes, it does." if "good" in r.context else "No."]) for r in requests]

    out = RemoteJudge(Says()).yes_probabilities(["a good answer?", "a bad answer?"])
    assert [p for p, _ in out] == [1.0, 0.0] and out[0][1] == "answered 'Yes, it does.'"
