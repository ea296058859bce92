"""A metric written by the user: `metric: metrics.py:score_answer` in the task file.

    def score_answer(example: dict, prediction: str) -> float | tuple[float, str]: ...

`example` holds the task's input fields and its output field; with several acceptable answers
the function is called once per answer (the output field holds that one) and the best counts.
It returns a score in [0, 1], or (score, feedback) to say why an answer lost.

This runs the user's own code: the file is named in their own task file, and it is imported
explicitly by path (never found on sys.path), once per process and content. Its content hash
is the metric's identity in the evaluation cache and is stored with the search, so `resume`,
`worker` and `eval` refuse to mix scores of an edited file with the old ones. An exception
inside it, or a value outside [0, 1] (never clipped), is a one-line error naming the example.
"""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Callable

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.data.metric_base import Metric, MetricError, Scored, as_scored
from promptsearch.errors import ConfigError

_LOADED: dict[tuple[str, str, str], Callable] = {}  # (path, content digest, function) -> function


class PythonMetric(Metric):
    def __init__(self, task: TaskSpec, path: Path, function: str):
        super().__init__(task)
        self.path, self.function = Path(path), function
        self.name = f"{self.path.name}:{function}"
        where = f"{task.source}: field 'metric'"
        try:
            source = self.path.read_bytes()
        except OSError as e:
            raise ConfigError(f"{where} points to {self.path}, which cannot be read ({e.strerror})") from None
        self.digest = hashlib.sha256(source).hexdigest()
        self.fn = _load(self.path, self.digest, function, where)

    @property
    def identity(self) -> str:
        blob = f"{self.digest}:{self.function}".encode()
        return "py:" + hashlib.sha256(blob).hexdigest()[:16]

    def compare(self, prediction: str, reference: str):
        raise NotImplementedError  # score() calls the function with the whole example instead

    def score(self, prediction: str, example: Example):
        output = self.task.output
        best: Scored | None = None
        for reference in example.answers(output):
            got = as_scored(self._call({**example.fields, output: reference}, prediction, example), self, example)
            if best is None or got.value > best.value:
                best = got
        assert best is not None  # every example has at least one answer (checked at load)
        return (best.value, best.feedback) if best.feedback is not None else best.value

    def _call(self, fields: dict, prediction: str, example: Example):
        try:
            return self.fn(fields, prediction)
        except Exception as e:  # noqa: BLE001 - the user's code: any error is theirs, on one line
            first = (str(e).strip().splitlines() or [""])[0][:200]
            raise MetricError(f"metric {self.name} raised {type(e).__name__}"
                              f"{': ' + first if first else ''} on example {example.id}") from e


def _load(path: Path, digest: str, function: str, where: str) -> Callable:
    key = (str(path), digest, function)
    if key in _LOADED:
        return _LOADED[key]
    name = f"promptsearch_user_metric_{digest[:16]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{where}: {path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001 - a broken user file: say what and where, in one line
        line = getattr(e, "lineno", None)
        at = f" (line {line})" if line else ""
        first = (str(getattr(e, "msg", None) or e).strip().splitlines() or [""])[0][:200]
        raise ConfigError(f"{where}: importing {path.name} failed{at}: {type(e).__name__}: {first}") from None
    fn = getattr(module, function, None)
    if not callable(fn):
        found = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                       and getattr(v, "__module__", None) == name)
        raise ConfigError(f"{where}: {path.name} has no function '{function}'"
                          f"{'; it defines ' + ', '.join(found) if found else ''}")
    _LOADED[key] = fn
    return fn
