import json

import pytest

from promptsearch.config import load_task
from promptsearch.data.dataset import load_split
from promptsearch.errors import ConfigError


def test_load_split_and_stable_ids(tiny_task):
    task = load_task(tiny_task)
    dev = load_split(task, "dev")
    assert len(dev) == 6 and set(dev[0].fields) == {"review", "label"}
    assert [e.id for e in dev] == [e.id for e in load_split(task, "dev")]
    assert len({e.id for e in dev}) == 6
    assert len(load_split(task, "dev", limit=2)) == 2


def test_csv(tmp_path, tiny_task):
    (tmp_path / "task" / "dev.csv").write_text("review,label\ngood one,positive\nbad one,negative\n")
    tiny_task.write_text(tiny_task.read_text().replace("dev.jsonl", "dev.csv"))
    dev = load_split(load_task(tiny_task), "dev")
    assert [e["label"] for e in dev] == ["positive", "negative"]


@pytest.mark.parametrize("content,message", [
    ("", "the dev split is empty"),
    ('{"review": "x"}\n', ":1: missing field 'label'"),
    ('{"review": "x", "label": "neutral"}\n', ":1: label 'neutral' is not in the task's labels (negative, positive)"),
    ('{"review": "x", "label": "positive"}\nnot json\n', ":2: invalid JSON"),
    ('["x", "positive"]\n', ":1: each line must be a JSON object"),
])
def test_bad_rows(tiny_task, content, message):
    (tiny_task.parent / "dev.jsonl").write_text(content)
    with pytest.raises(ConfigError) as e:
        load_split(load_task(tiny_task), "dev")
    assert message in str(e.value) and "dev.jsonl" in str(e.value)


def test_not_utf8(tiny_task):
    (tiny_task.parent / "dev.jsonl").write_bytes(json.dumps({"review": "caf", "label": "positive"}).encode() + b"\xff\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_split(load_task(tiny_task), "dev")
