"""A metric written by the user: `metric: metrics.py:score_answer` in the task file.

    def score_answer(example: dict, prediction: str) -> float | tuple[float, str]: ...

`example` holds the task's input fields and its output field; with several acceptable answers
the function is called once per answer (the output field holds that one) and the best counts.
It returns a score in [0, 1], or (score, feedback) to say why an answer lost.

This runs the user's own code: the file is named in their own task file, and it is imported
explicitly by path (never found on sys.path), once per process and content. Its content hash
is the metric's identity in the evaluation cache and is stored with the search, so `resume`,
`worker` and `eval` refuse to mix scores of an edited file with the old ones. An exception
inside it, or a value outside [0, 1] (never clipped), is a one-line error naming the example;
so is `sys.exit()` or any other BaseException it raises (Ctrl-C alone stays an interruption).

Building a PythonMetric runs none of the file's code: the file is parsed (its AST) and must
define the function at top level. The module is imported on `load()` (what `check_metric` does
before a search writes anything) or at the first call; `--dry-run` only parses.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
from collections.abc import Callable
from pathlib import Path

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.data.metric_base import Metric, MetricError, Scored, as_scored
from promptsearch.errors import ConfigError, excerpt


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
        self.where = where
        _check_defined(self.path, source, function, where)
        self._fn: Callable | None = None

    def load(self) -> Callable:
        """Import the file (once per metric object, so once per run) and return the function."""
        if self._fn is None:
            self._fn = _load(self.path, self.digest, self.function, self.where)
        return self._fn

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
        fn = self.load()
        try:
            return fn(fields, prediction)
        except KeyboardInterrupt:
            raise  # Ctrl-C: the search stops and keeps its completed trials
        except BaseException as e:
            # sys.exit() (SystemExit) and other BaseExceptions included: never a silent exit 0
            first = _first_line(e)
            raise MetricError(f"metric {self.name} raised {type(e).__name__}"
                              f"{': ' + first if first else ''} on example {example.id}") from e


def _load(path: Path, digest: str, function: str, where: str) -> Callable:
    name = f"promptsearch_user_metric_{digest[:16]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{where}: {path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except KeyboardInterrupt:
        raise
    except BaseException as e:
        line = getattr(e, "lineno", None)
        at = f" (line {line})" if line else ""
        first = _first_line(e)
        raise ConfigError(f"{where}: importing {path.name} failed{at}: {type(e).__name__}: {first}") from None
    fn = getattr(module, function, None)
    if not callable(fn):
        found = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                       and getattr(v, "__module__", None) == name)
        raise ConfigError(f"{where}: {path.name} has no function '{function}'"
                          f"{'; it defines ' + ', '.join(found) if found else ''}")
    return fn


def _first_line(e: BaseException) -> str:
    if isinstance(e, SystemExit):
        return f"sys.exit({e.code!r}) ends the process; a metric must return a score"
    text = str(getattr(e, "msg", None) or e)
    return (text.strip().splitlines() or [""])[0][:200]


def _check_defined(path: Path, source: bytes, function: str, where: str) -> None:
    """The file parses and binds `function` at top level (def, assignment or import), checked on
    its AST without running any of it."""
    try:
        tree = ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError) as e:  # ValueError: a NUL byte
        line = getattr(e, "lineno", None)
        at = f" (line {line})" if line else ""
        raise ConfigError(f"{where}: {path.name} is not valid Python{at}: {type(e).__name__}: "
                          f"{excerpt(getattr(e, 'msg', None) or str(e), 120)}") from None
    names = _top_level_names(tree)
    if function not in names:
        defs = sorted(n for n in names if not n.startswith("_"))
        raise ConfigError(f"{where}: {path.name} has no function '{function}'"
                          f"{'; it defines ' + ', '.join(defs) if defs else ''}")


def _top_level_names(tree: ast.Module | ast.stmt) -> set[str]:
    """Names the module binds when it runs: statements at top level, and inside top-level
    `if`, `try` and `with` blocks (a definition that depends on an import that may fail)."""
    names: set[str] = set()
    for node in _statements(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _statements(node: ast.Module | ast.stmt) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for field in ("body", "orelse", "finalbody", "handlers"):
        for child in getattr(node, field, None) or ():
            if isinstance(child, (ast.If, ast.Try, ast.With, ast.excepthandler)):
                out.extend(_statements(child))  # type: ignore[arg-type]
            elif isinstance(child, ast.stmt):
                out.append(child)
    return out
