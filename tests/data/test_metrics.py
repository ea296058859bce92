import re

import pytest

from promptsearch.data.metrics import contains, exact_match, last_number, normalize, numeric


def test_normalize():
    assert normalize("  Hello,   World! ") == "hello,   world".replace("   ", " ")
    assert normalize('"Paris."') == "paris"


@pytest.mark.parametrize("pred,gold,score", [
    ("Paris", "paris", 1.0), (" Paris. ", "Paris", 1.0), ("New  York", "new york", 1.0),
    ("Paris, France", "Paris", 0.0), ("", "Paris", 0.0),
])
def test_exact_match(pred, gold, score):
    assert exact_match(pred, gold) == score


def test_contains():
    assert contains("The city is Paris, I think", "paris") == 1.0
    assert contains("Lyon", "Paris") == 0.0


@pytest.mark.parametrize("text,value", [
    ("The answer is 1,234.", 1234.0), ("-7 then 12", 12.0), ("it costs $3.50", 3.5),
    ("x = -4", -4.0), ("no digits", None),
])
def test_last_number(text, value):
    assert last_number(text) == value


def test_numeric():
    assert numeric("so the total is 1,200 apples", "1200") == 1.0
    assert numeric("42.0", "42") == 1.0
    assert numeric("41", "42") == 0.0
    assert numeric("none", "42") == 0.0


# --- metric objects ------------------------------------------------------------------------------

from dataclasses import replace  # noqa: E402

from promptsearch.config.task import TaskSpec  # noqa: E402
from promptsearch.data.dataset import Example  # noqa: E402
from promptsearch.data.judge import JudgeMetric  # noqa: E402
from promptsearch.data.metrics import METRICS, Metric, MetricError, Scored, check_metric, resolve_metric  # noqa: E402
from promptsearch.errors import ConfigError  # noqa: E402


def _task(metric="accuracy", labels=None, source="task.yaml", **extra) -> TaskSpec:
    return TaskSpec(name="t", train="a", dev="b", test="c", inputs=("q",), output="a", metric=metric,
                    labels=labels, source=source, **extra)


def _ex(*answers: str, q: str = "q?") -> Example:
    return Example("id" + answers[0], {"q": q, "a": answers[0]}, tuple(answers))


def test_the_registry_lists_every_builtin():
    assert set(METRICS.names()) >= {"accuracy", "exact_match", "contains", "numeric", "f1", "chrf"}


@pytest.mark.parametrize("labels,prediction,gold", [
    (("-1", "1"), "1", "-1"), (("Positive", "positive"), "positive", "Positive"), (("C", "C++"), "C", "C++"),
])
def test_label_accuracy_compares_labels_exactly_as_declared(labels, prediction, gold):
    metric = resolve_metric(_task("accuracy", labels))
    assert metric.score(prediction, _ex(gold)) == 0.0
    assert metric.score(gold, _ex(gold)) == 1.0


def test_accuracy_of_generation_stays_a_normalised_match():
    assert resolve_metric(_task("accuracy")).score(" Paris. ", _ex("paris")) == 1.0


@pytest.mark.parametrize("prediction,gold,value", [
    ("the Eiffel Tower", "Eiffel Tower", 1.0),  # articles and case do not count
    ("a pair of scissors", "scissors", 0.5),  # P = 1/3 (a: article), R = 1: 2PR/(P+R) = 0.5
    ("blue", "red", 0.0), ("", "red", 0.0),
])
def test_f1_is_squad_token_f1(prediction, gold, value):
    assert resolve_metric(_task("f1")).score(prediction, _ex(gold)) == pytest.approx(value)


def test_chrf_comes_from_sacrebleu():
    from sacrebleu.metrics import CHRF
    metric = resolve_metric(_task("chrf"))
    assert metric.score("the cat sat on the mat", _ex("the cat sat on the mat")) == 1.0
    got = metric.score("a cat sat on a mat", _ex("the cat sat on the mat"))
    assert got == pytest.approx(CHRF().sentence_score("a cat sat on a mat", ["the cat sat on the mat"]).score / 100)
    assert 0 < got < 1


@pytest.mark.parametrize("name,prediction,value", [
    ("accuracy", "blue", 1.0), ("exact_match", "Yellow.", 1.0), ("contains", "I'd say red", 1.0),
    ("f1", "bright yellow", pytest.approx(2 / 3)), ("chrf", "blue", 1.0), ("numeric", "green", 0.0),
])
def test_several_answers_score_the_best_with_every_builtin(name, prediction, value):
    metric = resolve_metric(_task(name))
    assert metric.score(prediction, _ex("red", "blue", "yellow")) == value
    assert resolve_metric(_task("numeric")).score("about 8", _ex("eight", "8")) == 1.0


def test_unknown_metric_names_the_file_field_and_the_choices():
    with pytest.raises(ConfigError) as e:
        resolve_metric(_task("bleu", source="/x/task.yaml"))
    assert str(e.value).startswith("/x/task.yaml: field 'metric' is 'bleu'; allowed: accuracy, exact_match")
    assert "FILE.py:FUNCTION" in str(e.value) and "judge" in str(e.value)


class Median(Metric):
    def compare(self, prediction, reference):
        return float(prediction == reference)

    def aggregate(self, scores):
        return sorted(scores)[len(scores) // 2]


def test_a_registered_metric_with_its_own_aggregate(monkeypatch):
    from promptsearch.registry import Registry
    registry = Registry("metric")  # a copy: the process-wide registry stays as it was
    for name, cls in METRICS.items():
        registry.add(name, cls)
    registry.add("test_median", Median)
    monkeypatch.setattr("promptsearch.data.metrics.METRICS", registry)
    metric = resolve_metric(_task("test_median"))
    assert metric.identity == "test_median" and not metric.aggregates_by_mean
    assert metric.aggregate([0.0, 1.0, 1.0]) == 1.0 and resolve_metric(_task("f1")).aggregates_by_mean


def test_out_of_range_or_not_a_number_is_an_error_not_clipped():
    class Bad(Metric):
        def compare(self, prediction, reference):
            return {"high": 1.5, "nan": float("nan"), "str": "1", "tuple": (0.5, 3)}[prediction]

    metric = Bad(_task())
    metric.name = "bad"
    for p, msg in (("high", "returned 1.5 for example idr; a score must be in [0, 1] (it is not clipped)"),
                   ("nan", "a score must be a number"), ("str", "a score must be a number"),
                   ("tuple", "return a score in [0, 1] or (score, feedback string)")):
        with pytest.raises(MetricError, match=re.escape(msg)):
            metric.score_many([p], [_ex("r")])


# --- the user's Python metric --------------------------------------------------------------------

def _py_task(tmp_path, code: str, func: str = "score_answer") -> TaskSpec:
    (tmp_path / "metrics.py").write_text(code)
    return _task(f"{tmp_path / 'metrics.py'}:{func}", source=str(tmp_path / "task.yaml"))


def test_python_metric_scores_with_feedback_and_the_best_answer(tmp_path):
    task = _py_task(tmp_path, "def score_answer(example, prediction):\n"
                              "    if prediction == example['a']:\n        return 1.0\n"
                              "    return 0.25, f\"wanted {example['a']}\"\n")
    metric = resolve_metric(task)
    assert metric.name == "metrics.py:score_answer" and metric.identity.startswith("py:")
    assert metric.score_many(["blue", "green"], [_ex("red", "blue"), _ex("red", "blue")]) == \
        [Scored(1.0), Scored(0.25, "wanted red")]


def test_python_metric_identity_is_its_content(tmp_path):
    task = _py_task(tmp_path, "def score_answer(example, prediction):\n    return 1.0\n")
    first = resolve_metric(task).identity
    assert resolve_metric(task).identity == first
    (tmp_path / "metrics.py").write_text("def score_answer(example, prediction):\n    return 0.0\n")
    changed = resolve_metric(task)
    assert changed.identity != first and changed.score("x", _ex("y")) == 0.0  # the new code runs


@pytest.mark.parametrize("code,func,message", [
    ("def score_answer(example, prediction):\n    return 1\n", "nope",
     "field 'metric': metrics.py has no function 'nope'; it defines score_answer"),
    ("def score_answer(example, prediction)\n    return 1\n", "score_answer",
     "field 'metric': metrics.py is not valid Python (line 1): SyntaxError: "),
    ("import not_a_module_anywhere\ndef score_answer(example, prediction):\n    return 1\n", "score_answer",
     "field 'metric': importing metrics.py failed: ModuleNotFoundError: No module named 'not_a_module_anywhere'"),
])
def test_python_metric_load_errors_name_the_task_file(tmp_path, code, func, message):
    with pytest.raises(ConfigError) as e:
        check_metric(_py_task(tmp_path, code, func))  # parses, then imports
    assert str(e.value).startswith(f"{tmp_path / 'task.yaml'}: ") and message in str(e.value)
    assert "\n" not in str(e.value)


def test_python_metric_exceptions_and_bad_values_name_the_example(tmp_path):
    metric = resolve_metric(_py_task(tmp_path, "def score_answer(example, prediction):\n"
                                               "    return 1 / len(prediction)\n"))
    with pytest.raises(MetricError, match=r"^metric metrics.py:score_answer raised ZeroDivisionError: "
                                          r"division by zero on example idr$"):
        metric.score_many([""], [_ex("r")])
    assert metric.score_many(["ab"], [_ex("r")]) == [Scored(0.5)]  # the same function on a good value
    metric = resolve_metric(_py_task(tmp_path, "def score_answer(example, prediction):\n    return 2\n"))
    with pytest.raises(MetricError, match=r"returned 2 for example idr; a score must be in \[0, 1\]"):
        metric.score_many(["x"], [_ex("r")])


# --- the judge (its backend is scripted here; tests/evaluate/test_judge.py runs the real model) --

class ScriptedJudge:
    fingerprint = "judge-model-1"

    def __init__(self):
        self.calls = []

    def yes_probabilities(self, questions):
        self.calls.append(list(questions))
        return [(0.9 if "Answer to grade: blue" in q else 0.2, "scripted") for q in questions]


def test_judge_asks_once_for_every_answer_and_keeps_the_best():
    backend = ScriptedJudge()
    task = _task("judge", judge={"rubric": "Names a primary color.", "model": "m"})
    metric = JudgeMetric(task, backend)
    out = metric.score_many(["blue", "green"], [_ex("red", "blue"), _ex("red")])
    assert len(backend.calls) == 1 and len(backend.calls[0]) == 3  # 2 + 1 answers, one batch
    assert "Rubric: Names a primary color." in backend.calls[0][0] and "Reference answer: red" in backend.calls[0][0]
    assert [s.value for s in out] == [0.9, 0.2] and out[0].feedback.startswith("judge: P(yes) = 0.900")


def test_judge_identity_covers_model_and_rubric():
    task = _task("judge", judge={"rubric": "Names a primary color."})
    a = JudgeMetric(task, ScriptedJudge()).identity
    other_model = ScriptedJudge()
    other_model.fingerprint = "judge-model-2"
    assert JudgeMetric(task, other_model).identity != a
    assert JudgeMetric(replace(task, judge={"rubric": "Is polite."}), ScriptedJudge()).identity != a
    assert a.startswith("judge:") and len(a) < 40
