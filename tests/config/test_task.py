import pytest

from promptsearch.config import load_task
from promptsearch.config.task import TaskSpec
from promptsearch.errors import ConfigError, NotFoundError


def test_loads_a_good_task(tiny_task):
    task = load_task(tiny_task)
    assert task.name == "tiny" and task.inputs == ("review",) and task.output == "label"
    assert task.labels == ("negative", "positive") and task.is_classification
    assert task.split_path("dev").is_absolute() and task.split_path("dev").is_file()
    assert TaskSpec.from_dict(task.to_dict()) == task


def _rewrite(path, old, new):
    path.write_text(path.read_text().replace(old, new))


@pytest.mark.parametrize("old,new,message", [
    ("metric: accuracy", "metric: [f1]", "field 'metric' must be a string or a mapping, got a list"),
    ("metric: accuracy", "metric: nothere.py:score", "field 'metric' points to"),
    ("metric: accuracy", "metric: judge", "'judge' needs a mapping: metric: {judge: {rubric: ..., model: ...}}"),
    ("metric: accuracy", "metric: {judge: {model: smollm2}}", "field 'metric.judge.rubric' is missing"),
    ("metric: accuracy", "metric: {judge: {rubric: ok, colour: red}}", "unknown field 'metric.judge.colour'"),
    ("metric: accuracy", "metric: {jury: {rubric: ok}}", "field 'metric' as a mapping must be {judge: {"),
    ("labels: [negative, positive]", "labels: [positive]", "field 'labels' lists a single label ('positive')"),
    ("inputs: [review]", "inputs: review", "field 'inputs' must be a list, got a string"),
    ("inputs: [review]", "inputs: []", "field 'inputs' must not be an empty list"),
    ("output: label\n", "", "field 'output' is missing"),
    ("output: label", "output: [label]", "field 'output' must be a string, got a list"),
    ("dev: dev.jsonl", "dev: nowhere.jsonl", "field 'dev' points to"),
    ("labels: [negative, positive]", "labels: [negative, negative]", "field 'labels' lists a label twice"),
    ("name: tiny", "name: tiny\nlabel: x", "unknown field 'label'; allowed: name, description"),
    ("name: tiny", "name: tiny\nrationale: review", "field 'rationale' 'review' is also an input or the output"),
    ("name: tiny", "name: tiny\nrationale: [why]", "field 'rationale' must be a string, got a list"),
])
def test_bad_task_is_one_line_naming_file_and_field(tiny_task, old, new, message):
    _rewrite(tiny_task, old, new)
    with pytest.raises(ConfigError) as e:
        load_task(tiny_task)
    text = str(e.value)
    assert message in text and str(tiny_task) in text and "\n" not in text


def test_missing_task_file(tmp_path):
    with pytest.raises(NotFoundError, match="task file not found"):
        load_task(tmp_path / "nope.yaml")


def test_invalid_yaml_names_the_line(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("name: a\ninputs: [a\n")
    with pytest.raises(ConfigError, match=r"invalid YAML \(line"):
        load_task(p)


def test_top_level_must_be_a_mapping(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_task(p)


def test_rationale_field_is_optional_and_kept(tiny_task):
    assert load_task(tiny_task).rationale is None
    _rewrite(tiny_task, "name: tiny", "name: tiny\nrationale: why")
    task = load_task(tiny_task)
    assert task.rationale == "why" and TaskSpec.from_dict(task.to_dict()) == task
    old = task.to_dict()
    del old["rationale"]  # a search stored before the field existed
    assert TaskSpec.from_dict(old).rationale is None


def test_metric_spec_is_kept_as_parsed_data(tiny_task):
    """Names are not checked here (the data layer owns the registry); a Python metric's file is
    resolved next to the task file; a judge is stored as 'judge' plus its mapping."""
    _rewrite(tiny_task, "metric: accuracy", "metric: bleu-9000")
    assert load_task(tiny_task).metric == "bleu-9000"
    (tiny_task.parent / "m.py").write_text("def score(example, prediction):\n    return 1.0\n")
    _rewrite(tiny_task, "metric: bleu-9000", "metric: m.py:score")
    task = load_task(tiny_task)
    assert task.python_metric == (tiny_task.parent.resolve() / "m.py", "score")
    assert TaskSpec.from_dict(task.to_dict()) == task
    _rewrite(tiny_task, "metric: m.py:score", "metric: {judge: {rubric: \"Is it right?\", model: smollm2}}")
    task = load_task(tiny_task)
    judge = {"rubric": "Is it right?", "model": "smollm2"}
    assert (task.metric, task.judge, task.python_metric) == ("judge", judge, None)
    assert TaskSpec.from_dict({**task.to_dict(), "fingerprints": {"dev": "sha256:0"}}) == task


# --- issue 25: user code and paths (class 8), sizes (class 7), lookalike names (class 9) ----------

def _task_error(tiny_task, old: str, new: str) -> str:
    _rewrite(tiny_task, old, new)
    with pytest.raises(ConfigError) as e:
        load_task(tiny_task)
    assert "\n" not in str(e.value)
    return str(e.value)


@pytest.mark.parametrize("func", ["__init__", "__call__", "__getattr__", "__name__"])
def test_a_dunder_metric_name_is_refused_at_config_time(tiny_task, func):
    (tiny_task.parent / "m.py").write_text("def score(example, prediction):\n    return 1.0\n")
    message = _task_error(tiny_task, "metric: accuracy", f"metric: m.py:{func}")
    assert f"names '{func}', a special (dunder) name" in message


@pytest.mark.parametrize("func", ["def", "class", "None", "score-answer", "1score", "a.b", "score answer"])
def test_a_metric_name_that_is_not_an_identifier_is_refused(tiny_task, func):
    (tiny_task.parent / "m.py").write_text("def score(example, prediction):\n    return 1.0\n")
    assert "must end with a function name after the colon" in _task_error(
        tiny_task, "metric: accuracy", f"metric: 'm.py:{func}'")


def test_a_metric_outside_the_task_folder_needs_the_task_to_say_so(tiny_task, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "m.py").write_text("def score(example, prediction):\n    return 1.0\n")
    message = _task_error(tiny_task, "metric: accuracy", "metric: ../elsewhere/m.py:score")
    assert f"field 'metric' points to {outside / 'm.py'}, outside the task file's folder" in message
    assert "metric_outside_folder: true" in message
    _rewrite(tiny_task, "name: tiny", "name: tiny\nmetric_outside_folder: true")
    assert load_task(tiny_task).metric == f"{outside / 'm.py'}:score"


def test_a_symlink_in_the_task_folder_to_a_metric_outside_it_is_outside(tiny_task, tmp_path):
    (tmp_path / "real.py").write_text("def score(example, prediction):\n    return 1.0\n")
    (tiny_task.parent / "m.py").symlink_to(tmp_path / "real.py")
    assert "outside the task file's folder" in _task_error(tiny_task, "metric: accuracy", "metric: m.py:score")


def test_a_metric_below_the_task_folder_is_fine(tiny_task):
    (tiny_task.parent / "metrics").mkdir()
    (tiny_task.parent / "metrics" / "m.py").write_text("def score(example, prediction):\n    return 1.0\n")
    _rewrite(tiny_task, "metric: accuracy", "metric: metrics/m.py:score")
    assert load_task(tiny_task).metric.endswith("metrics/m.py:score")


def test_metric_outside_folder_only_goes_with_a_python_metric(tiny_task):
    message = _task_error(tiny_task, "name: tiny", "name: tiny\nmetric_outside_folder: true")
    assert "field 'metric_outside_folder' is only for a metric in a Python file" in message
    assert "must be a boolean" in _task_error(tiny_task, "metric_outside_folder: true",
                                              "metric_outside_folder: 'yes'")


def test_too_many_labels_are_refused_with_the_limit(tiny_task):
    from promptsearch.config.limits import MAX_LABELS
    labels = ", ".join(f"l{i}" for i in range(MAX_LABELS + 1))
    message = _task_error(tiny_task, "labels: [negative, positive]", f"labels: [{labels}]")
    assert f"field 'labels' lists {MAX_LABELS + 1} labels; a label task scores every label" in message
    assert f"so at most {MAX_LABELS}" in message


@pytest.mark.parametrize("second,why", [
    ("cafe\u0301", "differ only in Unicode normalization (NFD vs NFC)"),
    ("caf\u00e9\u200b", "differ only in invisible characters (U+200B)"),
])
def test_two_labels_that_look_the_same_are_refused_with_why(tiny_task, second, why):
    message = _task_error(tiny_task, "labels: [negative, positive]", f'labels: ["caf\u00e9", "{second}"]')
    assert "field 'labels' lists two labels that look the same" in message and why in message


def test_an_unknown_key_with_a_zero_width_character_says_so(tiny_task):
    message = _task_error(tiny_task, "labels:", "lab\u200bels:")
    assert "unknown field 'lab\\u200bels'; 'lab\\u200bels' and 'labels' differ only in invisible characters" in message


def test_labels_that_differ_in_case_are_two_labels(tiny_task):
    _rewrite(tiny_task, "labels: [negative, positive]", "labels: [CO, Co]")
    assert load_task(tiny_task).labels == ("CO", "Co")
