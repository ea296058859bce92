"""Every model a command needs comes from one loader made for the command (service/models.py
`Models`): a judge or proposer naming the task's model reuses the loaded task model, and nothing
is kept for the next command (no process-wide model cache; issue 23, item 5)."""
from __future__ import annotations

import pytest

from promptsearch import service
from promptsearch.lm import loader
from promptsearch.search import SearchSettings
from promptsearch.service.models import Models, command_models

JUDGE_TASK = "examples/explain_judge.yaml"  # metric.judge.model: smollm2, the task's own model


class Loads:
    """A load function that counts what it loads (the real embedded model)."""

    def __init__(self, smollm):
        self.smollm, self.specs = smollm, []

    def __call__(self, spec, **options):
        self.specs.append(spec)
        return self.smollm


def test_a_judge_naming_the_task_model_is_the_loaded_task_model(smollm, tmp_path):
    loads = Loads(smollm)
    with command_models(Models(load=loads)):
        result = service.optimize(f"sqlite:///{tmp_path}/j.db", JUDGE_TASK, "search_spaces/default.yaml", trials=1,
                                  settings=SearchSettings(dev_limit=2, max_new_tokens=8))
    assert result.summary is not None and result.summary.completed == 1
    assert loads.specs == ["smollm2"]  # the task model, loaded once; the judge is that model
    loads.specs.clear()
    with command_models(Models(load=loads)):
        verdict, _ = service.evaluate(f"sqlite:///{tmp_path}/j.db", result.record.name, limit=2, resamples=200,
                                      save=False)
    assert verdict is not None and loads.specs == ["smollm2"]  # `eval` too: one load for model and judge


def test_each_command_has_its_own_loader():
    made = []

    def load(spec, **options):
        made.append(spec)
        return object()
    with command_models(Models(load=load)):
        first = loader.load("embedded")
        assert loader.load("smollm2") is first  # two names of the embedded model: one load
    with command_models(Models(load=load)):
        assert loader.load("smollm2") is not first  # the next command loads its own
    assert made == ["embedded", "smollm2"]


def test_the_task_model_given_by_the_caller_is_the_one_reused(smollm):
    models = Models(load=lambda spec, **options: pytest.fail(f"loaded {spec}"))
    assert models.task("smollm2", smollm) is smollm
    assert models("embedded") is smollm
