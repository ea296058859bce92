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


def _gen_task(tmp_path, dev_rows):
    from psdata import write_jsonl
    d = tmp_path / "gen"
    for split in ("train", "test"):
        write_jsonl(d / f"{split}.jsonl", [{"q": "Capital of France?", "a": "Paris"}])
    write_jsonl(d / "dev.jsonl", dev_rows)
    (d / "task.yaml").write_text("train: train.jsonl\ndev: dev.jsonl\ntest: test.jsonl\ninputs: [q]\noutput: a\n"
                                 "metric: exact_match\n")
    return load_task(d / "task.yaml")


def test_several_acceptable_answers(tmp_path):
    """A JSONL list is the references; fields[output] (what prompts and demos show) is the first."""
    task = _gen_task(tmp_path, [{"q": "Name a primary color.", "a": ["red", "blue", "yellow"]},
                                {"q": "Capital of France?", "a": "Paris"}])
    many, one = load_split(task, "dev")
    assert many["a"] == "red" and many.references == ("red", "blue", "yellow")
    assert many.answers("a") == ("red", "blue", "yellow") and one.answers("a") == ("Paris",)
    # a single string keeps the id it always had (the cache stays valid); a list's id covers every answer
    from promptsearch.data.dataset import example_id
    assert one.id == example_id({"q": "Capital of France?", "a": "Paris"})
    other = _gen_task(tmp_path, [{"q": "Name a primary color.", "a": ["red", "blue"]}])
    assert load_split(other, "dev")[0].id != many.id


@pytest.mark.parametrize("value", [[], ["red", ""], ["red", 3]])
def test_a_bad_list_of_answers_is_one_line(tmp_path, value):
    task = _gen_task(tmp_path, [{"q": "Name a primary color.", "a": value}])
    with pytest.raises(ConfigError, match=r"dev.jsonl:1: field 'a' must be a string or a non-empty list"):
        load_split(task, "dev")


def test_every_reference_of_a_label_task_must_be_a_label(tmp_path, tiny_task):
    (tmp_path / "task" / "dev.jsonl").write_text('{"review": "fine", "label": ["positive", "neutral"]}\n')
    with pytest.raises(ConfigError, match="label 'neutral' is not in the task's labels"):
        load_split(load_task(tiny_task), "dev")
