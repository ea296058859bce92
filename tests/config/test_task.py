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
