"""Label scoring modes (evaluate/labels.py): mapping answers to labels, reading a label from the
first token's alternatives, collisions, the auto probe, and every mode on the real embedded
model in-process through the CLI and the Python API."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from promptsearch.cli.main import main
from promptsearch.errors import NoLogprobsError, UserError
from promptsearch.evaluate import decoding_for_settings, decoding_key
from promptsearch.evaluate.evaluator import with_label_scorer
from promptsearch.evaluate.labels import (
    LabelScorer,
    check_mode,
    first_token_collisions,
    first_token_label,
    parse_label,
    resolve,
)
from promptsearch.lm.base import LM, GenerateResult, TokenLogprob
from promptsearch.search.results import completed_trials
from promptsearch.storage import Store
from promptsearch.strategies import Decoding

ROOT = Path(__file__).resolve().parents[2]
TASK = ROOT / "examples" / "review_sentiment.yaml"
LABELS = ("negative", "positive")


@pytest.mark.parametrize("answer,label", [
    ("positive", "positive"),  # exactly
    (" Positive.", "positive"),  # case, whitespace and punctuation around it
    ("**NEGATIVE**", "negative"),
    ("positive, because the food was great", "positive"),  # the one label it begins with
    ("Negatively", "negative"),
    ("The review is positive", None),  # rambling: unparsed
    ("", None),
    ("neutral", None),
])
def test_parse_label(answer, label):
    assert parse_label(answer, LABELS) == label


def test_parse_label_prefers_the_longer_label_it_begins_with():
    assert parse_label("very good indeed", ("very", "very good")) == "very good"
    assert parse_label("very", ("very", "very good")) == "very"


def _first(top: dict[str, float]) -> GenerateResult:
    token = max(top, key=top.__getitem__)
    return GenerateResult([token], [top[token]], [TokenLogprob(token, top[token], top)])


def test_first_token_label_sums_the_tokens_that_begin_it():
    top = {" pos": math.log(0.3), " negative": math.log(0.35), " positive": math.log(0.2), " the": math.log(0.1)}
    label, lp, scores = first_token_label(_first(top), LABELS, " ")
    assert label == "positive" and lp == pytest.approx(math.log(0.5))
    assert scores == pytest.approx((math.log(0.35), math.log(0.5)))  # every label's mass, in label order


def test_first_token_label_with_no_label_among_the_alternatives_is_the_token_itself():
    label, _, scores = first_token_label(_first({" The": -0.1, " I": -2.0}), LABELS, " ")
    assert label == " The" and scores is None
    assert first_token_label(GenerateResult([" ok"]), LABELS, " ")[0] == " ok"  # a server that gave none


class _NoTokenizer(LM):
    name = "remote-like"

    def __init__(self, top: dict[str, float] | None = None, loglikelihood: bool = False):
        self.top, self.ll, self.asked = top, loglikelihood, []

    def loglikelihood(self, requests):
        raise AssertionError("not asked")

    def check_loglikelihood(self) -> None:
        if not self.ll:
            raise NoLogprobsError("no prompt log-probs here")

    def generate(self, requests):
        self.asked += list(requests)
        return [_first(self.top) if self.top and r.top_logprobs else GenerateResult([" positive"]) for r in requests]


def test_collisions_without_a_tokenizer_are_judged_by_words():
    lm = _NoTokenizer()
    said = first_token_collisions(lm, ("very good", "very bad"))
    assert said == "labels 'very good' and 'very bad' may begin with the same token"
    assert first_token_collisions(lm, ("yes", "yes please")) is not None
    assert first_token_collisions(lm, LABELS) is None


def test_auto_order_and_reasons():
    assert resolve(_NoTokenizer(loglikelihood=True), LABELS)[0] == "sum"
    mode, why = resolve(_NoTokenizer({" positive": -0.1}), LABELS)
    assert mode == "first-token" and why.startswith("no prompt log-probabilities (no prompt log-probs here)")
    mode, why = resolve(_NoTokenizer(), LABELS)
    assert mode == "generate" and "no top log-probabilities" in why
    mode, why = resolve(_NoTokenizer({" very": -0.1}), ("very good", "very bad"))
    assert mode == "generate" and "may begin with the same token" in why


def test_explicit_first_token_on_a_model_without_top_logprobs_is_one_line():
    with pytest.raises(UserError) as e:
        check_mode(_NoTokenizer(), LABELS, "first-token", "openai/m")
    assert str(e.value) == ("--label-scoring first-token: model openai/m: it returns no top log-probabilities of "
                            "generated tokens; use --label-scoring generate (or auto)")


def test_scorer_asks_after_the_answer_line_and_leaves_its_space_to_the_answer():
    lm = _NoTokenizer({" positive": -0.2, " negative": -1.5})
    out = LabelScorer("first-token")(lm, LABELS, ["Review: good\nLabel:"], [" "])
    assert out == [("positive", pytest.approx(-0.2), pytest.approx((-1.5, -0.2)))]  # and each label's score
    assert lm.asked[0].context == "Review: good\nLabel:" and lm.asked[0].max_new_tokens == 1
    out = LabelScorer("generate")(lm, LABELS, ["Review: good\nLabel:"], [" "])
    assert out[0][0] == "positive" and lm.asked[-1].stop == ("\n",)


def test_cache_keys_differ_per_mode_and_loglikelihood_keeps_its_old_key(tiny_task):
    from promptsearch.config import load_task
    task = load_task(tiny_task)
    keys = {m: decoding_key(decoding_for_settings(32, m), task) for m in ("sum", "mean", "first-token", "generate")}
    assert len(set(keys.values())) == 4
    assert keys["sum"] == decoding_key(Decoding(), task) and keys["sum"].startswith("rank:sum:")


def test_cache_keys_are_pinned_so_cached_evaluations_stay_found():
    """The decoding part of every cached evaluation's key, as stored by existing databases: a
    change here (a rename, a moved field) would silently lose every cached result."""
    from promptsearch.config import load_task
    root = Path(__file__).resolve().parents[2] / "examples"
    labels, free = load_task(root / "review_sentiment.yaml"), load_task(root / "everyday_qa.yaml")
    assert [decoding_key(decoding_for_settings(32, m), labels) for m in ("sum", "mean", "first-token", "generate")] \
        == ["rank:sum:3cbc7514b4d9:accuracy", "rank:mean:3cbc7514b4d9:accuracy",
            "first-token:20:3cbc7514b4d9:accuracy", "generate:8:3cbc7514b4d9:accuracy"]
    assert decoding_key(Decoding(max_new_tokens=64), labels, metric="m1") == "rank:sum:3cbc7514b4d9:m1"
    assert decoding_key(decoding_for_settings(32, "first-token"), free) == "greedy:32:nl:f1"
    assert decoding_key(Decoding(max_new_tokens=64), free, metric="m1") == "greedy:64:nl:m1"
    # the label scorer the strategies run with is derived from the mode, not part of the key
    assert with_label_scorer(decoding_for_settings(32, "generate")) == decoding_for_settings(32, "generate")


def test_every_mode_in_process_through_the_cli(smollm, tmp_path, capsys, monkeypatch):
    """The same seeded search in each mode on the embedded model: each stores its mode, `show`
    names it and (first-token, generate) the unparsed count per trial; auto on a local model is
    loglikelihood (sum), so a seeded search gives what it gave before modes existed."""
    monkeypatch.setattr("promptsearch.service.models.load_model", lambda spec=None, **kw: smollm)
    space = tmp_path / "space.yaml"
    space.write_text("name: direct\ninstructions: ['Classify the {inputs}. Answer with one of: {labels}.', "
                     "'Is this review positive or negative?']\n"
                     "demos:\n  counts: [0, 2]\n  selection: [random]\n  draws: 2\ntemplates: [plain, chat]\nseed: 0\n")
    db = f"sqlite:///{tmp_path}/m.db"
    values = {}
    for mode in ("auto", "sum", "first-token", "generate"):
        assert main(["optimize", str(TASK), "--space", str(space), "--dev-limit", "6", "--trials", "3",
                     "--label-scoring", mode, "--name", mode, "--db", db]) == 0
        out = capsys.readouterr().out
        store = Store(db, create=False)
        record = store.get_search(mode)
        assert record.settings["label_scoring"] == ("sum" if mode == "auto" else mode)
        trials = completed_trials(store, record)
        values[mode] = [t.value for t in trials]
        assert all(("unparsed" in t.user_attrs) == (mode in ("first-token", "generate")) for t in trials)
        if mode == "auto":
            assert "label scoring: loglikelihood (sum), because the model returns prompt log-probabilities" in out
        assert main(["show", mode, "--db", db]) == 0
        shown = capsys.readouterr().out
        assert mode.replace("auto", "sum") in shown  # the stored mode, in the settings
        assert ("unpars" in shown) == (mode in ("first-token", "generate"))  # the column (its header may wrap)
    assert values["auto"] == values["sum"]
