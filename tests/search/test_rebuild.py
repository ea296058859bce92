"""One function rebuilds a stored candidate, for eval (with the model) and export (without): it
comes back byte for byte as scored, or a one-line UserError says why it cannot."""
from types import SimpleNamespace

import pytest

from promptsearch.config import load_space, load_task
from promptsearch.errors import UserError
from promptsearch.render import PromptTemplate
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.search.rebuild import rebuild_prompt
from promptsearch.search.results import leaderboard
from promptsearch.storage import Store


@pytest.fixture
def searched(tiny_task, tmp_path, fake_lm):
    """A search whose candidates cover both layouts, with and without reasoning."""
    space = tmp_path / "space.yaml"
    space.write_text("name: r\ninstructions: ['Classify.']\nstrategies: [direct, zero_shot_cot]\n"
                     "demos: {counts: [0, 2]}\ncot_triggers: [null, 'Think.']\ntemplates: [plain, chat]\n"
                     "reasoning: {max_tokens: 8}\nstart: none\n")
    store = Store(f"sqlite:///{tmp_path}/s.db")
    rec = new_search(store, "s", load_task(tiny_task), load_space(space), "fake", SearchSettings(seed=2))
    study = store.load_study(rec)
    for strategy in ("direct", "zero_shot_cot"):
        for template in ("plain", "chat"):
            study.enqueue_trial({"strategy": strategy, "template": template, "n_demos": 2, "cot_trigger": "Think."})
    run_trials(store, rec, fake_lm, 4)
    return store, rec, [e.candidate for e in leaderboard(store, rec, None)]


def _row(row, **changes):
    fields = ("instruction", "demos", "cot_trigger", "template", "params", "prompt", "prompt_hash", "answer_prefix")
    return SimpleNamespace(**{**{f: getattr(row, f) for f in fields}, **changes})


def test_every_stored_candidate_comes_back_as_scored_with_or_without_the_model(searched, fake_lm):
    store, rec, rows = searched
    assert {(r.params["strategy"], r.template) for r in rows} == {
        ("direct", "plain"), ("direct", "chat"), ("zero_shot_cot", "plain"), ("zero_shot_cot", "chat")}
    for row in rows:
        with_model = rebuild_prompt(rec, row, lm=fake_lm, store=store)
        without = rebuild_prompt(rec, row)  # chat: recovered from the stored text
        assert isinstance(without, PromptTemplate)
        assert with_model.hash == without.hash == row.prompt_hash
        assert without.text == with_model.text and without.strategy == with_model.strategy


def test_what_cannot_be_rebuilt_is_a_one_line_error(searched, fake_lm):
    store, rec, rows = searched
    row = next(r for r in rows if r.template == "plain")
    changed = _row(row, demos=[dict(d, review="another text") for d in row.demos])
    with pytest.raises(UserError, match=f"^search 's': candidate {row.prompt_hash[:12]} renders differently now"):
        rebuild_prompt(rec, changed, lm=fake_lm, store=store)
    with pytest.raises(UserError, match=r"^search 's': cannot rebuild the scored template of prompt"):
        rebuild_prompt(rec, _row(row, prompt_hash="0" * 32))
    nearest = _row(row, params={**row.params, "demo_selection": "nearest"})
    with pytest.raises(UserError, match="picks its demonstrations per input"):
        rebuild_prompt(rec, nearest)
