"""`selection:` in the task file (config/task.py): parsed strictly, one-line errors, and carried
into the search's settings unless --select-fraction / select_fraction= is given."""
import pytest

import promptsearch as ps
from promptsearch.config import load_task
from promptsearch.errors import ConfigError
from promptsearch.storage import Store


def _with(tiny_task, block: str):
    text = tiny_task.read_text() + block
    tiny_task.write_text(text)
    return tiny_task


def test_selection_block_is_parsed(tiny_task):
    assert load_task(tiny_task).selection is None
    assert load_task(_with(tiny_task, "selection: {fraction: 0.5}\n")).selection == {"fraction": 0.5, "top": 5}


@pytest.mark.parametrize("block, message", [
    ("selection: {fraction: 1}\n", "field 'selection.fraction' must be greater than 0 and less than 1"),
    ("selection: {fraction: 0}\n", "field 'selection.fraction' must be greater than 0 and less than 1"),
    ("selection: {fraction: half}\n", "field 'selection.fraction' must be"),
    ("selection: {top: 3}\n", "field 'selection.fraction' is missing"),
    ("selection: {fraction: 0.5, top: 0}\n", "field 'selection.top' must be at least 1"),
    ("selection: {fraction: 0.5, tops: 2}\n", "unknown field 'selection.tops'"),
    ("selection: 0.5\n", "field 'selection' must be"),
])
def test_bad_selection_block_is_one_line(tiny_task, block, message):
    with pytest.raises(ConfigError, match=message) as e:
        load_task(_with(tiny_task, block))
    assert "\n" not in str(e.value) and str(tiny_task) in str(e.value)


def test_task_selection_goes_into_the_settings_unless_a_flag_sets_it(tmp_path, tiny_task, tiny_space):
    task = _with(tiny_task, "selection: {fraction: 0.5, top: 2}\n")
    store = Store(f"sqlite:///{tmp_path}/t.db")
    rec = ps.create_search(store, "from-task", task, tiny_space, model="smollm2", label_scoring="sum")
    assert (rec.settings["select_fraction"], rec.settings["select_top"]) == (0.5, 2)
    rec = ps.create_search(store, "from-flag", task, tiny_space, model="smollm2", label_scoring="sum",
                           select_fraction=0.25)
    assert (rec.settings["select_fraction"], rec.settings["select_top"]) == (0.25, 5)
    with pytest.raises(ConfigError, match="leaves no example held out"):  # 0.1 of 6 dev examples
        ps.create_search(store, "too-few", _with(tiny_task, ""), tiny_space, model="smollm2", label_scoring="sum",
                         select_fraction=0.05)
