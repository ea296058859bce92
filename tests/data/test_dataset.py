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
    row = json.dumps({"review": "caf", "label": "positive"}).encode()
    (tiny_task.parent / "dev.jsonl").write_bytes(row + b"\xff\n")
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


# --- issue 12, class 7: data files read by their formats -------------------------------------

def _dev(tiny_task, name: str, content: str | bytes):
    path = tiny_task.parent / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    tiny_task.write_text(tiny_task.read_text().replace("dev: dev.jsonl", f"dev: {name}"))
    return load_split(load_task(tiny_task), "dev")


def test_csv_follows_rfc_4180(tiny_task):
    """A quoted field keeps its line breaks, commas and doubled quotes; a BOM is not data."""
    text = '\ufeffreview,label\r\n"line one\nline two, with a comma",positive\r\n"say ""hi""",negative\r\n'
    dev = _dev(tiny_task, "dev.csv", text)
    assert [e["review"] for e in dev] == ["line one\nline two, with a comma", 'say "hi"']
    assert set(dev[0].fields) == {"review", "label"}  # not "\ufeffreview"


def test_csv_errors_name_the_physical_line(tiny_task):
    with pytest.raises(ConfigError, match=r"dev\.csv:5: field 'label' is empty"):
        _dev(tiny_task, "dev.csv", 'review,label\n"a\n\nb",positive\nc,\n')
    with pytest.raises(ConfigError, match=r"dev\.csv:1: column 'label' appears twice"):
        _dev(tiny_task, "dev.csv", "label,review,label\nx,y,z\n")


def test_jsonl_accepts_every_json_line(tiny_task):
    """Raw U+2028, U+2029 and U+0085 are valid inside a JSON string; str.splitlines() split there."""
    row = '{"review": "%s\u2028b\u2029c\x85d", "label": "positive"}\r\n'
    dev = _dev(tiny_task, "dev.jsonl", "\ufeff" + row % "a" + "\n" + row % "z")
    assert [e["review"] for e in dev] == ["a\u2028b\u2029c\x85d", "z\u2028b\u2029c\x85d"]


@pytest.mark.parametrize("value,message", [
    ('["x"]', "got a list"), ("true", "got a boolean"), ('{"a": 1}', "got an object"),
    ("NaN", "got a number that is not finite"), ("null", "field 'review' is null"),
])
def test_an_input_that_is_not_a_string_names_its_row(tiny_task, value, message):
    with pytest.raises(ConfigError) as e:
        _dev(tiny_task, "dev.jsonl", '{"review": "ok", "label": "positive"}\n'
                                     f'{{"review": {value}, "label": "positive"}}\n')
    assert "dev.jsonl:2: " in str(e.value) and message in str(e.value)


def test_numbers_are_inputs_as_json_writes_them(tiny_task):
    dev = _dev(tiny_task, "dev.jsonl", '{"review": 3, "label": "positive"}\n{"review": 2.5, "label": "negative"}\n')
    assert [e["review"] for e in dev] == ["3", "2.5"]


def test_deep_or_huge_json_is_one_line(tiny_task):
    for line in ('{"review": ' + "[" * 100_000 + "]" * 100_000 + ', "label": "positive"}',
                 '{"review": ' + "1" * 5000 + ', "label": "positive"}'):
        with pytest.raises(ConfigError, match=r"dev\.jsonl:1: invalid JSON"):
            _dev(tiny_task, "dev.jsonl", line + "\n")
