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
    ("selection: [random, stratified]", "selection: [nearest]", "field 'demos.selection[0]' is 'nearest'"),
    ("draws: 2", "draws: 0", "field 'demos.draws' must be at least 1"),
    ("draws: 2", "draws: 2\n  order: [asc]", "unknown field 'demos.order'; allowed: demos.counts"),
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
