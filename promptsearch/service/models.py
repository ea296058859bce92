"""Loading a model, and the checks a model must pass against a task before anything is written.

`load_model` is the one function that loads a model from a spec (the CLI, the Python API, workers,
`eval` and `serve` all come here). A command loads every model it needs, the task's, a judge's
and a proposer's, through one `Models` loader made for the command (`command_models`), which the
layers below reach through lm/loader.py: a judge or proposer naming the task's model reuses it,
and nothing outlives the command. A test or caller injects its own with `command_models(Models(...))`
around a call.
"""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

from promptsearch.config.task import TaskSpec
from promptsearch.errors import ConfigError, UserError
from promptsearch.evaluate.labels import STORED, check_mode, mode_of, resolve
from promptsearch.lm.base import LM
from promptsearch.search.workers import check_context
from promptsearch.storage.store import SearchRecord

EMBEDDED = ("smollm2", "embedded")


def load_model(spec: str | None = "smollm2", *, device: str | None = None, dtype: str | None = None,
               batch_size: int = 32, api_base: str | None = None, **remote_options: Any) -> LM:
    """A local model ("smollm2", a checkpoint folder, a .gguf file) or a remote one
    ("provider/model"; `api_base` for an OpenAI-compatible server). `remote_options` go to
    promptsearch.lm.remote.load_remote (api_key, concurrency, num_retries, timeout)."""
    from promptsearch.lm import load_lm  # picks the backend; torch is imported only for a local model
    return load_lm(spec, device=device, dtype=dtype, batch_size=batch_size, api_base=api_base, **remote_options)


class Models:
    """One command's model loader: `task` loads (or takes) the task model, and calling it loads
    any other model by spec (a judge, a proposer), each spec once; the task's own spec is the
    task model."""

    def __init__(self, load: Callable[..., LM] | None = None) -> None:
        self._load = load or load_model
        self._loaded: dict[tuple[str, str | None], LM] = {}

    def task(self, spec: str, lm: LM | None = None, **options: Any) -> LM:
        """The task model: `lm` if given, else `spec` loaded with `options` (device, dtype, ...)."""
        if lm is None:
            lm = self._load(spec, **options)
        self._loaded.setdefault(_key(spec, options.get("api_base")), lm)
        return lm

    def release(self) -> None:
        """Let go of every model loaded so far (`optimize --workers`: each worker loads its own)."""
        self._loaded.clear()

    def __call__(self, spec: str, *, api_base: str | None = None) -> LM:
        key = _key(spec, api_base)
        if key not in self._loaded:
            self._loaded[key] = self._load(spec, api_base=api_base)
        return self._loaded[key]


def _key(spec: str, api_base: str | None) -> tuple[str, str | None]:
    """Two specs of one model are one key: the embedded model's names, a local path as resolved."""
    if spec.lower() in EMBEDDED:
        return "smollm2", None
    try:
        return stored_spec(spec), api_base
    except UserError:  # a path that does not exist: loading it says so
        return spec, api_base


@contextlib.contextmanager
def command_models(models: Models | None = None) -> Iterator[Models]:
    """The loader of this command: `models`, or the one a caller installed around it, or a new one."""
    from promptsearch.lm import loader

    current = loader._CURRENT.get()
    chosen = models or (current if isinstance(current, Models) else Models())
    with loader.loading(chosen):
        yield chosen


def in_command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` runs as one command: every model it loads comes from one loader (command_models)."""
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        with command_models():
            return fn(*args, **kwargs)
    return call


def model_for(record: SearchRecord, api_base: str | None = None, concurrency: int | None = None) -> LM:
    """The model a search was made with, with its stored device, dtype, batch size, API base and
    concurrency (`api_base`, `concurrency`: replace the stored ones), from the command's loader."""
    s = record.settings
    with command_models() as loader:
        return loader.task(record.model, device=s.get("device"), dtype=s.get("dtype"),
                           batch_size=s.get("batch_size", 32), api_base=api_base or s.get("api_base"),
                           concurrency=concurrency or s.get("concurrency"))


def given(spec: str, lm: LM) -> LM:
    """A caller's loaded model as the command's task model (a judge naming `spec` is `lm`)."""
    with command_models() as loader:
        return loader.task(spec, lm)


def stored_spec(spec: str, flag: str = "--model") -> str:
    """The spec as a search stores it: a local path resolved (so `resume` from another folder finds
    it), checked to exist; the embedded model's name and remote specs unchanged."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"{flag}: must name a model, got an empty string; e.g. 'smollm2'")
    from promptsearch.lm.backends import FALLBACK, backend_for
    if spec.lower() in EMBEDDED or backend_for(spec) != FALLBACK:  # remote or another backend's spec
        return spec
    from promptsearch.lm.loading import resolve_spec  # no torch: only looks at the path
    return str(resolve_spec(spec))


def check_model(task: TaskSpec, lm: LM, model: str, label_scoring: str = "sum") -> None:
    """What the model must support for this task: the label scoring mode for a label task (a
    remote model is asked once; `auto` is resolved later by `resolve_label_scoring`), and every
    example fitting its context on its own. Raises a one-line UserError."""
    if task.is_classification and label_scoring != "auto":
        if mode_of(label_scoring) == "loglikelihood" and not getattr(lm, "supports_loglikelihood", True):
            raise UserError(f"--model {model}: this model gives no log-likelihood to rank labels with; "
                            f"use --label-scoring generate, or drop `labels` from {task.source or 'the task'} "
                            f"to score by generation")
        check_mode(lm, task.labels or (), label_scoring, model)
    elif not task.is_classification:  # a server that cannot generate: refused before any write
        lm.check_generate()
    check_context(task, lm)


def resolve_label_scoring(task: TaskSpec, lm: LM, label_scoring: str) -> tuple[str, str | None]:
    """(the label scoring a search stores, why it was chosen): `auto` probes the model once and
    takes the first mode it supports (evaluate/labels.py); other values are kept as given."""
    if label_scoring != "auto":
        return STORED.get(label_scoring, label_scoring), None
    if not task.is_classification:  # only label tasks have a label scoring
        return "sum", None
    return resolve(lm, task.labels or ())


def check_api_bases(model: str, api_base: str | None, proposer: str | None, proposer_api_base: str | None) -> None:
    """API bases of a new search: http(s) URLs, each beside a remote model (a local model would
    silently ignore it). One-line errors that never show the URLs' credentials."""
    from promptsearch.lm.urls import check_api_base

    for flag, url, spec, owner in (("--api-base", api_base, model, "--model"),
                                   ("--proposer-api-base", proposer_api_base, proposer, "--proposer")):
        if url is None:
            continue
        check_api_base(url, flag)
        if spec is None or not is_remote(spec):
            raise ConfigError(f"{flag}: {owner} {spec or '(the task model)'} is not a remote model, so it takes "
                              f"no {flag}; drop {flag}, or name the server's model as provider/model, "
                              f"e.g. openai/NAME")


def check_proposer(proposer: str | None, proposer_api_base: str | None) -> None:
    """A remote proposer answers one tiny request before the search is written."""
    if proposer is None or not is_remote(proposer):
        return
    from promptsearch.lm import loader
    loader.load(proposer, api_base=proposer_api_base).check_generate()


def stored_secrets_masked(settings: Any, task: TaskSpec) -> tuple[Any, TaskSpec]:
    """The settings and task as a search stores them: API bases with their credentials masked
    (***). They are taken back from this process or PROMPTSEARCH_API_BASE when used
    (lm.remote.resolve_api_base)."""
    from dataclasses import replace

    from promptsearch.lm.urls import masked_url

    def mask(url: str | None) -> str | None:
        return masked_url(url) if url else url
    settings = replace(settings, api_base=mask(settings.api_base), proposer_api_base=mask(settings.proposer_api_base))
    if task.judge and task.judge.get("api_base"):
        task = replace(task, judge={**task.judge, "api_base": masked_url(task.judge["api_base"])})
    return settings, task


def is_remote(spec: str) -> bool:
    """A `provider/model` spec served by an API (it has a price: `--budget dollars`)."""
    from promptsearch.lm.remote import is_remote_spec

    return isinstance(spec, str) and is_remote_spec(spec)
