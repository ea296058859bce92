"""Proposal rounds inside a search: logic with a scripted proposer, and the real embedded model."""
import pytest
from optuna.trial import TrialState

from promptsearch.config import load_space, load_task
from promptsearch.config.propose import ProposeSpec, parse_propose
from promptsearch.errors import ConfigError
from promptsearch.propose import LocalProposer, ProposalHook, Proposer
from promptsearch.propose.pool import pool_index
from promptsearch.propose.proposer import Completion
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.storage import Store
from promptsearch.storage.models import ProposalRoundRow


class Scripted(Proposer):
    """Answers from a list, in order; records what it was sent."""

    name = "scripted"

    def __init__(self, answers, fail=False):
        self.answers, self.fail, self.sent = list(answers), fail, []

    def complete(self, prompts, n, *, temperature, max_tokens, seed):
        if self.fail:
            raise RuntimeError("proposer is down")
        out = []
        for p in prompts:
            self.sent.append(p)
            out.append(Completion(p, [self.answers.pop(0) if self.answers else "" for _ in range(n)]))
        return out


def _search(tmp_path, tiny_task, tiny_space, name="p"):
    store = Store(f"sqlite:///{tmp_path}/p.db")
    rec = new_search(store, name, load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    return store, rec


def _rows(store, rec):
    return store.proposals.all(rec.id)


def test_parse_propose_strict(tmp_path):
    spec = parse_propose({"methods": ["induction", "refinement"], "every": 3, "n": 2}, "s.yaml")
    assert spec.methods == ("induction", "refinement") and spec.every == 3 and spec.n == 2
    assert ProposeSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ConfigError, match=r"unknown field 'propose.evry'"):
        parse_propose({"evry": 3}, "s.yaml")
    with pytest.raises(ConfigError, match=r"field 'propose.temperature' must be above 0"):
        parse_propose({"temperature": 0}, "s.yaml")


def test_rounds_store_provenance_grow_the_pool_and_enqueue(tmp_path, tiny_task, tiny_space, fake_lm):
    store, rec = _search(tmp_path, tiny_task, tiny_space)
    answers = [" decide if the review is positive or negative", "Instruction: \"Classify as {labels}.\"",
               "", " label the mood of the review", " judge the review", " rate the review"]
    proposer = Scripted(answers + [f"variant {i} of the instruction" for i in range(20)])
    hook = ProposalHook(ProposeSpec(methods=("induction", "refinement", "resampling"), every=3, rounds=2,
                                    n=2, draws=2, examples=3, top=2), proposer)
    run_trials(store, rec, fake_lm, 7, hooks=[hook])
    rows = _rows(store, rec)
    accepted = [r for r in rows if r.accepted]
    reasons = {r.reason for r in rows if not r.accepted}
    assert "duplicate" in reasons and "empty" in reasons  # the seed copy and the blank answer
    assert [r.pool_index for r in accepted] == list(range(2, 2 + len(accepted)))
    induction = [r for r in rows if r.method == "induction"]
    assert induction and all(r.prompt.endswith("The instruction was to") and r.round == 0 for r in induction)
    refinement = [r for r in rows if r.method == "refinement"]
    assert refinement and refinement[0].parents and "score:" in refinement[0].prompt
    assert all(r.raw in answers or r.raw.startswith("variant") for r in rows)
    study = store.load_study(rec)
    used = {pool_index(t.params) for t in study.trials if t.state == TrialState.COMPLETE}
    assert {r.pool_index for r in accepted if r.round == 0} <= used  # enqueued trials ran them
    assert all(r.enqueued for r in accepted)


def test_failing_proposer_is_logged_and_skipped(tmp_path, tiny_task, tiny_space, fake_lm, caplog):
    store, rec = _search(tmp_path, tiny_task, tiny_space)
    hook = ProposalHook(ProposeSpec(every=2, rounds=2), Scripted([], fail=True))
    run_trials(store, rec, fake_lm, 4, hooks=[hook])
    outcomes = store.db.read(lambda s: [r.outcome for r in s.query(ProposalRoundRow).all()])
    assert outcomes and all(o.startswith("skipped: RuntimeError: proposer is down") for o in outcomes)
    assert "skipped" in caplog.text
    assert len(store.load_study(rec).get_trials(states=(TrialState.COMPLETE,))) == 4


def test_garbage_is_rejected_not_fatal(tmp_path, tiny_task, tiny_space, fake_lm):
    store, rec = _search(tmp_path, tiny_task, tiny_space)
    hook = ProposalHook(ProposeSpec(methods=("induction",), n=3, draws=1),
                        Scripted(["", "   ", "Output:", " x" * 200]))
    run_trials(store, rec, fake_lm, 2, hooks=[hook])
    rows = _rows(store, rec)
    assert rows and not any(r.accepted for r in rows)


def test_resume_keeps_the_pool_and_does_not_repeat_rounds(tmp_path, tiny_task, tiny_space, fake_lm):
    store, rec = _search(tmp_path, tiny_task, tiny_space)
    spec = ProposeSpec(methods=("induction",), every=100, rounds=1, n=2, draws=1)
    run_trials(store, rec, fake_lm, 2, hooks=[ProposalHook(spec, Scripted([" first idea", " second idea"]))])
    again = Scripted([" must not be asked"])
    hook = ProposalHook(spec, again)
    run_trials(store, rec, fake_lm, 2, hooks=[hook])
    assert again.sent == []
    assert len(_rows(store, rec)) == 2


def test_killed_mid_round_resumes_without_losing_or_repeating(tmp_path, tiny_task, tiny_space, fake_lm):
    """Round 1 has two methods; the process dies after the first is stored. On resume only the
    second is asked, and the stored proposals are in the pool."""
    store, rec = _search(tmp_path, tiny_task, tiny_space)
    spec = ProposeSpec(methods=("induction", "refinement", "resampling"), every=2, rounds=2, n=1, draws=1, top=1)

    class DiesOnResampling(Scripted):
        def complete(self, prompts, n, **kw):
            if "Generate a variation" in prompts[0]:
                raise KeyboardInterrupt  # like a kill: not caught as a proposer failure
            return super().complete(prompts, n, **kw)

    with pytest.raises(KeyboardInterrupt):
        run_trials(store, rec, fake_lm, 6, hooks=[ProposalHook(spec, DiesOnResampling(
            [" induced idea", " refined idea"]))])
    before = _rows(store, rec)
    assert {r.method for r in before} == {"induction", "refinement"}
    later = Scripted([" paraphrased idea"])
    run_trials(store, rec, fake_lm, 1, hooks=[ProposalHook(spec, later)])
    after = _rows(store, rec)
    assert len(later.sent) == 1 and "Generate a variation" in later.sent[0]
    assert [r.text for r in after] == [r.text for r in before] + ["Paraphrased idea."]


@pytest.mark.slow
def test_each_method_on_the_real_model(tmp_path, tiny_task, tiny_space, smollm):
    store, rec = _search(tmp_path, tiny_task, tiny_space)
    spec = ProposeSpec(methods=("induction", "refinement", "resampling"), every=2, rounds=2, n=2, draws=1,
                       examples=3, top=2, max_tokens=24)
    run_trials(store, rec, smollm, 4, hooks=[ProposalHook(spec, LocalProposer(smollm))])
    rows = _rows(store, rec)
    assert {r.method for r in rows} == {"induction", "refinement", "resampling"}
    assert all(r.raw is not None and r.prompt and r.proposer == smollm.name for r in rows)
    for r in rows:
        assert (r.reason is None) == r.accepted
    accepted = [r for r in rows if r.accepted]
    study = store.load_study(rec)
    ran = {pool_index(t.params) for t in study.get_trials(states=(TrialState.COMPLETE,))}
    # every accepted round-0 proposal was evaluated by an enqueued trial
    assert {r.pool_index for r in accepted if r.round == 0} <= ran
