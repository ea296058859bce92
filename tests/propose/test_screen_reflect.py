"""Screening proposals before they cost a trial, reflection on the best prompt's dev failures, and
the method registry: logic with a scripted proposer and the fake LM, then the real embedded model
through the API and the CLI."""
import re
from pathlib import Path

import pytest
from optuna.trial import TrialState
from test_rounds import Scripted

import promptsearch as ps
from promptsearch.cli.main import main
from promptsearch.config import load_space, load_task
from promptsearch.config.propose import ProposeSpec, ScreenSpec, parse_propose
from promptsearch.errors import ConfigError
from promptsearch.propose import ProposalHook
from promptsearch.propose.methods import PROPOSAL_METHODS, Asks
from promptsearch.propose.screen import screen_out, screen_scores
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.storage import Store
from promptsearch.storage.models import ProposalRoundRow

ROOT = Path(__file__).resolve().parents[2]
SCREENED = re.compile(r"^screened out: rank (\d+) of (\d+), score (-?\d+\.\d\d) [<=] (-?\d+\.\d\d)$")


def _search(tmp_path, task, space, name="p"):
    store = Store(f"sqlite:///{tmp_path}/p.db")
    return store, new_search(store, name, load_task(task), load_space(space), "fake", SearchSettings())


def test_parse_screen_strict():
    assert parse_propose({}, "s.yaml").screen is None  # no screen unless asked: how spaces ran before
    spec = parse_propose({"screen": {"examples": 4, "keep": 1}}, "s.yaml")
    assert spec.screen == ScreenSpec(4, 1) and ProposeSpec.from_dict(spec.to_dict()) == spec
    assert parse_propose({"screen": {}}, "s.yaml").screen == ScreenSpec()
    old = ProposeSpec().to_dict()
    del old["screen"]  # a space stored before screening existed
    assert ProposeSpec.from_dict(old).screen is None
    with pytest.raises(ConfigError, match=r"unknown field 'propose.screen.kep'; allowed: propose.screen.examples"):
        parse_propose({"screen": {"kep": 2}}, "s.yaml")
    with pytest.raises(ConfigError, match=r"field 'propose.screen.keep' must be an integer from 1 to 64, got 0"):
        parse_propose({"screen": {"keep": 0}}, "s.yaml")
    with pytest.raises(ConfigError, match=r"field 'propose.screen' must be a mapping"):
        parse_propose({"screen": 3}, "s.yaml")


def test_unknown_method_is_refused_before_anything_is_written(tmp_path, tiny_task):
    space = tmp_path / "s.yaml"
    space.write_text("name: s\ninstructions: [a]\npropose:\n  methods: [induction, guess]\n")
    store = Store(f"sqlite:///{tmp_path}/p.db")
    with pytest.raises(ConfigError, match=r"s.yaml: field 'propose.methods\[1\]' is 'guess'; allowed: induction, "
                                          r"refinement, resampling, reflection"):
        new_search(store, "p", load_task(tiny_task), load_space(space), "fake", SearchSettings())
    assert store.list_searches() == []


def test_screen_scores_in_one_call_and_reasons(fake_lm, tiny_task):
    task = load_task(tiny_task)
    from promptsearch.data.dataset import load_split
    examples = load_split(task, "train")[:4]
    scores = screen_scores(fake_lm, task, "plain", ["Classify it.", "BAD advice.", "Label it."], examples)
    assert fake_lm.calls == 1 and fake_lm.requests == 12  # 3 proposals x 4 examples, one batch
    assert scores[0] == scores[2] > scores[1]
    assert screen_out([-1.0, -3.5, -2.0, -1.0], keep=2) == [
        None, "screened out: rank 4 of 4, score -3.50 < -1.00", "screened out: rank 3 of 4, score -2.00 < -1.00",
        None]
    assert screen_out([-2.0, -2.0, -2.0], keep=1)[1] == "screened out: rank 2 of 3, score -2.00 = -2.00"
    assert screen_out([-2.0], keep=1) == [None]


def test_screened_out_proposals_are_stored_but_not_tried(tmp_path, tiny_task, tiny_space, fake_lm):
    store, rec = _search(tmp_path, tiny_task, tiny_space)
    answers = [" BAD one", " judge the review", " BAD two", " rate the review"]
    hook = ProposalHook(ProposeSpec(methods=("induction",), n=4, draws=1, screen=ScreenSpec(4, 2)), Scripted(answers))
    run_trials(store, rec, fake_lm, 4, hooks=[hook])
    rows = ps.proposals(store, "p")
    kept = [r for r in rows if r["accepted"]]
    out = [r for r in rows if not r["accepted"]]
    assert {r["text"] for r in kept} == {"Judge the review.", "Rate the review."}
    assert all(SCREENED.match(r["reason"]) for r in out) and {r["text"] for r in out} == {"BAD one.", "BAD two."}
    assert all(r["screen_score"] is not None for r in rows)
    assert min(r["screen_score"] for r in kept) > max(r["screen_score"] for r in out)
    assert [r["index"] for r in kept] == [2, 3] and all(r["index"] is None and not r["trials"] for r in out)
    assert all(r["trials"] for r in kept)  # the kept ones ran as enqueued trials
    outcome = store.db.read(lambda s: s.query(ProposalRoundRow).one().outcome)
    assert outcome == "2 accepted, 0 rejected, 2 screened out"


def _bad_space(tmp_path):
    """Seed instructions the fake LM always gets wrong: the best prompt has dev failures."""
    p = tmp_path / "bad.yaml"
    p.write_text("name: bad\ninstructions: ['BAD seed one.', 'BAD seed two.']\ndemos:\n  counts: [0]\n")
    return p


def test_reflection_shows_the_best_prompts_failures(tmp_path, tiny_task, fake_lm):
    store, rec = _search(tmp_path, tiny_task, _bad_space(tmp_path))
    proposer = Scripted([" judge the review carefully", " say positive or negative"])
    hook = ProposalHook(ProposeSpec(methods=("reflection",), every=2, rounds=2, n=2, examples=3), proposer)
    run_trials(store, rec, fake_lm, 3, hooks=[hook])
    (row,) = [r for r in store.proposals.all(rec.id) if r.method == "reflection"][:1]
    (parent,) = row.parents
    study = store.load_study(rec)
    before = [t for t in study.get_trials(states=(TrialState.COMPLETE,)) if t.number < 2]  # round 1 ran then
    best = max(before, key=lambda t: (t.value, -t.number))
    assert parent["trial"] == best.number and parent["text"].startswith("BAD seed")
    dev = {ex.id: ex for ex in __import__("promptsearch.data.dataset", fromlist=["load_split"]).load_split(
        load_task(tiny_task), "dev")}
    assert len(parent["failures"]) == 3 and set(parent["failures"]) <= set(dev)
    sent = proposer.sent[0]
    assert sent.startswith("A language model was given an instruction") and parent["text"] in sent
    for example_id in parent["failures"]:
        ex = dev[example_id]
        assert f"Review: {ex['review']}\nExpected output: {ex['label']}\nModel's answer: " in sent
    assert ps.proposals(store, "p")[0]["failures"] == parent["failures"]
    later = [t.value for t in study.trials if t.number >= 2 and t.value is not None]
    assert max(later) == 1.0  # the fix it proposed works


def test_a_proposal_carrying_a_dev_example_is_rejected(tmp_path, tiny_task, fake_lm):
    """Reflection shows dev failures; an instruction that copies one (input or answer) verbatim would
    raise its own dev score without being a better prompt, so it is refused like a train copy."""
    from psdata import sentiment_rows

    dev_review = sentiment_rows(6, offset=100)[1]["review"]  # the tiny task's second dev example
    store, rec = _search(tmp_path, tiny_task, _bad_space(tmp_path))
    proposer = Scripted([f" Answer as for: {dev_review}", " judge the review carefully"])
    hook = ProposalHook(ProposeSpec(methods=("reflection",), every=2, rounds=2, n=2, examples=3), proposer)
    run_trials(store, rec, fake_lm, 3, hooks=[hook])  # round 0 has nothing to reflect on; round 1 runs
    rows = {r["text"]: r for r in ps.proposals(store, "p")}
    assert rows[f"Answer as for: {dev_review}."]["reason"] == "copies an example"
    assert rows["Judge the review carefully."]["accepted"]


def test_reflection_with_nothing_wrong_is_skipped(tmp_path, tiny_task, tiny_space, fake_lm):
    store, rec = _search(tmp_path, tiny_task, tiny_space)
    hook = ProposalHook(ProposeSpec(methods=("reflection",), every=2, rounds=2), Scripted([]))
    run_trials(store, rec, fake_lm, 3, hooks=[hook])
    outcome = store.db.read(lambda s: s.query(ProposalRoundRow).one().outcome)
    assert "has no failed dev example to reflect on" in outcome


def test_a_registered_method_runs_in_later_rounds(tmp_path, tiny_task, tiny_space, fake_lm):
    @PROPOSAL_METHODS.register("shout")
    class Shout:
        initial = False

        @staticmethod
        def asks(inp):
            return Asks([f"SHOUT {inp.scored[0]['text']}"], 1, [[inp.scored[0]]])
    try:
        space = tmp_path / "s.yaml"
        space.write_text(Path(tiny_space).read_text() + "propose:\n  methods: [induction, shout]\n  every: 2\n"
                         "  rounds: 2\n  n: 1\n  draws: 1\n")
        store, rec = _search(tmp_path, tiny_task, space)
        run_trials(store, rec, fake_lm, 3)  # the space's own hook, the fake LM proposing
        rows = store.proposals.all(rec.id)
        assert [r.method for r in rows] == ["induction", "shout"]
        assert rows[1].prompt.startswith("SHOUT ") and rows[1].parents[0]["index"] is not None
    finally:
        PROPOSAL_METHODS.remove("shout")


# ------------------------------------------------------------------ the real embedded model


def test_screen_on_the_real_model_through_the_api(tmp_path, smollm, capsys):
    space = tmp_path / "s.yaml"
    space.write_text("name: s\ninstructions: ['Classify the {inputs}: {labels}.']\ndemos:\n  counts: [0]\n"
                     "propose:\n  methods: [induction]\n  n: 4\n  draws: 1\n  examples: 3\n  max_tokens: 20\n"
                     "  screen: {examples: 4, keep: 1}\n")
    store = ps.Store(f"sqlite:///{tmp_path}/p.db")
    ps.create_search(store, "s", ROOT / "examples" / "review_sentiment.yaml", space, dev_limit=4, lm=smollm)
    ps.run_search(store, "s", trials=2, lm=smollm)
    rows = ps.proposals(store, "s")
    valid = [r for r in rows if r["accepted"] or r["reason"].startswith("screened out")]
    assert valid, "the model wrote at least one usable instruction"
    assert len([r for r in rows if r["accepted"]]) == 1  # keep: 1
    for r in valid:  # a real log-likelihood: a finite negative mean over the 4 train outputs
        assert r["screen_score"] is not None and -100 < r["screen_score"] < 0
    kept = [r for r in valid if r["accepted"]]
    out = [r for r in valid if not r["accepted"]]
    assert all(SCREENED.match(r["reason"]) for r in out)
    if kept and out:
        assert kept[0]["screen_score"] >= max(r["screen_score"] for r in out)
        assert kept[0]["trials"] and not any(r["trials"] for r in out)
    capsys.readouterr()
    assert main(["show", "s", "--db", f"sqlite:///{tmp_path}/p.db"]) == 0
    shown = capsys.readouterr().out
    assert "screen" in shown and f"{kept[0]['screen_score']:.2f}" in shown
    assert not out or "screened" in shown


def test_reflection_on_the_real_model_with_metric_feedback(tmp_path, smollm, capsys):
    """contact_json's metric says why an answer lost: the reflection prompt carries it."""
    space = tmp_path / "s.yaml"
    space.write_text("name: s\ninstructions: ['Write the JSON record.']\ndemos:\n  counts: [0]\n"
                     "propose:\n  methods: [induction, reflection]\n  every: 2\n  rounds: 2\n  n: 2\n"
                     "  draws: 1\n  examples: 2\n  max_tokens: 24\n")
    db = f"sqlite:///{tmp_path}/p.db"
    assert main(["optimize", str(ROOT / "examples" / "contact_json.yaml"), "--space", str(space), "--trials", "3",
                 "--name", "r", "--dev-limit", "4", "--db", db]) == 0
    store = Store(db, create=False)
    rows = [r for r in store.proposals.all(store.get_search("r").id) if r.method == "reflection"]
    assert rows, "the reflection round ran"
    parent = rows[0].parents[0]
    assert 1 <= len(parent["failures"]) <= 2
    assert "Model's answer:" in rows[0].prompt and "Feedback:" in rows[0].prompt
    capsys.readouterr()
    assert main(["show", "r", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "reflection" in out and "failures:" in out
