"""Strategy names in a search space are checked against the registry, with the file and field."""
import pytest

from promptsearch.config import load_space
from promptsearch.errors import ConfigError
from promptsearch.strategies import check_space


@pytest.mark.parametrize("extra,message", [
    ("strategies: [direct, tree_of_thought]",
     "field 'strategies[1]' is 'tree_of_thought'; allowed: direct, zero_shot_cot, few_shot_cot, "
     "self_consistency, least_to_most"),
    ("bootstrap: {strategy: few_shot_cot}",
     "field 'bootstrap.strategy' is 'few_shot_cot'; allowed: zero_shot_cot, self_consistency, least_to_most"),
])
def test_unknown_or_unfit_strategy_names_the_file_and_field(tiny_space, extra, message):
    tiny_space.write_text(tiny_space.read_text() + extra + "\n")
    with pytest.raises(ConfigError) as e:
        check_space(load_space(tiny_space))
    # the built-ins, in their order; a strategy registered elsewhere (a plug-in) would follow them
    assert str(e.value).startswith(f"{tiny_space}: {message}")


def test_few_shot_cot_needs_a_demo_count(tiny_space):
    tiny_space.write_text(tiny_space.read_text().replace("counts: [0, 2]", "counts: [0]")
                          + "strategies: [direct, few_shot_cot]\n")
    with pytest.raises(ConfigError, match="field 'strategies' lists few_shot_cot, which needs demos"):
        check_space(load_space(tiny_space))


def test_a_search_is_not_created_with_an_unknown_strategy(tiny_space, tiny_task, tmp_path):
    from promptsearch.config import load_task
    from promptsearch.search import SearchSettings, new_search
    from promptsearch.storage import Store

    tiny_space.write_text(tiny_space.read_text() + "strategies: [tree]\n")
    store = Store(f"sqlite:///{tmp_path}/s.db")
    with pytest.raises(ConfigError, match="'strategies\\[0\\]' is 'tree'"):
        new_search(store, "s", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    assert store.find_search("s") is None
