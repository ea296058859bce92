from pathlib import Path

import pytest

from promptsearch.config import load_space
from promptsearch.config.space import SpaceSpec
from promptsearch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_spaces_parse():
    for path in sorted((ROOT / "search_spaces").glob("*.yaml")):
        space = load_space(path)
        assert space.instructions, path
        assert SpaceSpec.from_dict(space.to_dict()) == space


def test_tiny_space(tiny_space):
    space = load_space(tiny_space)
    assert space.demo_counts == (0, 2) and space.demo_draws == 2
    assert space.cot_triggers == (None, "Let's think step by step.")
    assert space.templates == ("plain", "chat")


@pytest.mark.parametrize("old,new,message", [
    ("templates: [plain, chat]", "templates: [plain, html]", "field 'templates[1]' is 'html'; allowed: plain, chat"),
    ("counts: [0, 2]", "counts: [0, two]", "field 'demos.counts[1]' must be an integer from 0 to 64"),
    ("selection: [random, stratified]", "selection: [closest]",
     "field 'demos.selection[0]' is 'closest'; allowed: random, stratified, nearest"),
    ("draws: 2", "draws: 0", "field 'demos.draws' must be from 1 to 100"),
    ("draws: 2", "draws: 2\n  sort: [asc]", "unknown field 'demos.sort'; allowed: demos.counts"),
    ("draws: 2", "draws: 2\n  order: [asc]", "field 'demos.order[0]' is 'asc'; allowed: drawn, similar_last"),
    ("draws: 2", "draws: 2\n  embedding: bert", "field 'demos.embedding' is 'bert'; allowed: minilm, lm"),
    ("seed: 0", "seed: 0\nstrategies: [direct, direct]", "field 'strategies' lists a value twice"),
    ("seed: 0", "seed: 0\nreasoning: {max_tokens: 2}", "field 'reasoning.max_tokens' must be from 8 to 4096, got 2"),
    ("seed: 0", "seed: 0\nreasoning: {label_answer: [vote]}", "field 'reasoning.label_answer[0]' is 'vote'"),
    ("seed: 0", "seed: 0\nreasoning: {tokens: 9}", "unknown field 'reasoning.tokens'; allowed: reasoning.max_tokens"),
    ("seed: 0", "seed: 0\nself_consistency: {samples: [0]}",
     "field 'self_consistency.samples[0]' must be an integer from 1 to 64, got 0"),
    ("seed: 0", "seed: 0\nself_consistency: {temperatures: [0]}",
     "field 'self_consistency.temperatures[0]' must be a number above 0 and at most 2, got 0"),
    ("seed: 0", "seed: 0\nself_consistency: {temperatures: hot}",
     "field 'self_consistency.temperatures' must be a list, got a string"),
    ("seed: 0", "seed: 0\nbootstrap: {strategy: [a]}", "field 'bootstrap.strategy' must be a string, got a list"),
    ("seed: 0", "seed: 0\nbootstrap: {tries: 0}", "field 'bootstrap.tries' must be from 1 to 100000, got 0"),
    ("seed: 0", "seed: zero", "field 'seed' must be an integer, got a string"),
    ("seed: 0", "seed: true", "field 'seed' must be an integer, got a boolean"),
    ("  - 'Sentiment?'", "  - 'Classify as {labels}.'", "field 'instructions' lists an instruction twice"),
])
def test_bad_space(tiny_space, old, new, message):
    tiny_space.write_text(tiny_space.read_text().replace(old, new))
    with pytest.raises(ConfigError) as e:
        load_space(tiny_space)
    assert message in str(e.value) and str(tiny_space) in str(e.value) and "\n" not in str(e.value)


def test_instructions_required(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: s\n")
    with pytest.raises(ConfigError, match="field 'instructions' is missing"):
        load_space(p)


def test_strategy_defaults_keep_old_spaces_direct(tiny_space):
    space = load_space(tiny_space)
    assert space.strategies == ("direct",) and space.demo_orders == ("drawn",)
    assert space.bootstrap_trigger == "Let's think step by step."


def test_reasoning_space_parses_every_dimension():
    space = load_space(ROOT / "search_spaces" / "reasoning.yaml")
    assert set(space.strategies) == {"direct", "zero_shot_cot", "few_shot_cot", "self_consistency",
                                     "least_to_most"}
    assert None in space.cot_triggers and "Let's think step by step." in space.cot_triggers
    assert "Take a deep breath and work on this problem step-by-step." in space.cot_triggers
    assert "nearest" in space.demo_selection and space.demo_orders == ("drawn", "similar_last")
    assert len(space.sc_samples) >= 1 and all(0 < t <= 2 for t in space.sc_temperatures)


def test_null_bootstrap_trigger_means_none(tiny_space):
    tiny_space.write_text(tiny_space.read_text() + "bootstrap: {trigger: null, tries: 3}\n")
    space = load_space(tiny_space)
    assert space.bootstrap_trigger is None and space.bootstrap_tries == 3


def test_strategy_names_stay_strings_for_the_strategies_layer_to_check(tiny_space):
    """config is the lowest layer: it cannot know the registered strategies (promptsearch.strategies
    checks them, tests/strategies/test_space_check.py), only that they are distinct strings."""
    tiny_space.write_text(tiny_space.read_text() + "strategies: [direct, my_plugin]\nbootstrap: {strategy: mine}\n")
    space = load_space(tiny_space)
    assert space.strategies == ("direct", "my_plugin") and space.bootstrap_strategy == "mine"


# --- issue 25, class 9: the default --space works from any folder ---------------------------------

def test_shipped_spaces_are_found_from_any_folder(tmp_path, monkeypatch):
    from promptsearch.config import load_space
    from promptsearch.config.space import SHIPPED_SPACES

    monkeypatch.chdir(tmp_path)
    for given in ("search_spaces/default.yaml", "default.yaml", "default", "search_spaces/reasoning.yaml"):
        space = load_space(given)
        assert space.source.startswith(str(SHIPPED_SPACES)), given
    (tmp_path / "search_spaces").mkdir()
    (tmp_path / "search_spaces" / "default.yaml").write_text("name: mine\ninstructions: [Mine.]\n")
    assert load_space("search_spaces/default.yaml").name == "mine"  # a file here wins


def test_a_space_that_is_nowhere_is_not_found_as_given(tmp_path, monkeypatch):
    from promptsearch.config import load_space
    from promptsearch.errors import NotFoundError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotFoundError, match=r"^search_spaces/nope\.yaml: search space file not found"):
        load_space("search_spaces/nope.yaml")
    with pytest.raises(NotFoundError, match=r"^other/default\.yaml: search space file not found"):
        load_space("other/default.yaml")  # only search_spaces/ and bare names are looked up


def test_optimize_without_space_runs_from_another_folder(tiny_task, tmp_path, monkeypatch, smollm, capsys):
    from promptsearch.cli.main import main

    monkeypatch.setattr("promptsearch.service.models.load_model", lambda spec=None, **kw: smollm)
    monkeypatch.chdir(tmp_path)
    assert main(["optimize", str(tiny_task), "--dry-run", "--trials", "2", "--dev-limit", "2",
                 "--db", f"sqlite:///{tmp_path}/x.db"]) == 0, capsys.readouterr().err
