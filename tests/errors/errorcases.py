"""How to produce each bad input of docs/errors.md. The expected one-line error and exit code of
each case are read from that table (test_bad_inputs.py), so the docs and the behaviour cannot
drift apart. A setup gets a Ctx and returns the command's arguments; `{db}` is replaced by the
database URL (by default a database holding a finished search 'done' and an empty one 'empty')."""
from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

V1_DB = Path(__file__).resolve().parents[1] / "storage" / "data" / "schema_v1.db"
PG_WITH_PASSWORD = "postgresql://bob:s3cret-pw@127.0.0.1:1/searches"


@dataclass
class Ctx:
    tmp: Path
    task: Path  # the tiny task's YAML (its data files are beside it)
    space: Path
    db: Path | None = None  # the database the command runs against (a copy of the template)

    def opt(self, *extra: str, task: Path | None = None) -> list[str]:
        return ["optimize", str(task or self.task), "--space", str(self.space), "--name", "new", *extra]

    def data(self, split: str) -> Path:
        return self.task.parent / f"{split}.jsonl"

    def edit_task(self, old: str, new: str) -> None:
        self.task.write_text(self.task.read_text().replace(old, new))


def _gone_plugin(c: Ctx) -> None:
    """The finished search 'done' was made with a plug-in module that is not installed here."""
    assert c.db is not None
    _sql(c.db, "INSERT INTO study_user_attributes (study_id, key, value_json) SELECT study_id, 'plugins', "
               "'[\"gone_plugin\"]' FROM studies WHERE study_name = 'promptsearch:done'")


def _sql(path: Path, *statements: str) -> Path:
    con = sqlite3.connect(path)
    for statement in statements:
        con.execute(statement)
    con.commit()
    con.close()
    return path


def _optuna_db(path: Path) -> Path:
    import optuna
    optuna.create_study(storage=f"sqlite:///{path}", study_name="theirs").optimize(
        lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    return path


def _changed_since_created(c: Ctx, *argv: str) -> list[str]:
    """A search 'moved' made from the tiny task, whose dev file then changes."""
    from promptsearch.config import load_space, load_task
    from promptsearch.search import SearchSettings, new_search
    from promptsearch.storage import Store

    store = Store(f"sqlite:///{c.db}")
    rec = new_search(store, "moved", load_task(c.task), load_space(c.space), "fake", SearchSettings())
    store.set_trial_target(rec, 1)
    store.close()
    with open(c.data("dev"), "a") as f:
        f.write('{"review": "one more", "label": "positive"}\n')
    return list(argv)


def _exported(c: Ctx, name: str, old: bool = False, output: str | None = None) -> Path:
    """`export done --format json`, as an older version wrote it (`old`) or for another task's `output`."""
    from promptsearch import service

    data = json.loads(service.export(f"sqlite:///{c.db}", "done", "json"))
    if old:
        del data["format_version"]
    if output:
        data["task"] = {**data["task"], "name": "other", "output": output}
    return _write(c.tmp / name, json.dumps(data))


def _metric_file(c: Ctx, code: str, spec: str = "m.py:score") -> list[str]:
    _write(c.task.parent / "m.py", code)
    c.edit_task("metric: accuracy", f"metric: {spec}")
    return c.opt()


def _truncated_checkpoint(c: Ctx) -> Path:
    """A tiny Hugging Face checkpoint whose weights file was cut in half (a copy that stopped)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    ckpt = c.tmp / "ckpt"
    config = LlamaConfig(vocab_size=64, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1)
    with contextlib.redirect_stderr(io.StringIO()):  # its progress bar is not the command's output
        LlamaForCausalLM(config).save_pretrained(ckpt)
    weights = ckpt / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    return ckpt


def _server(mode: str) -> str:
    """The /v1 URL of a scripted completions server (it answers until the process ends)."""
    from fakeserver import FakeCompletions
    return FakeCompletions(mode=mode, retry_after="0").url


def _generation(c: Ctx) -> None:
    """The tiny task scored by generation (no labels)."""
    c.edit_task("labels: [negative, positive]\n", "")
    c.edit_task("metric: accuracy", "metric: exact_match")


def _with_credentials(c: Ctx, *argv: str) -> list[str]:
    """A search 'remote' made with credentials in its API base: stored masked (as optimize does)."""
    from promptsearch.config import load_space, load_task
    from promptsearch.search import SearchSettings, new_search
    from promptsearch.storage import Store

    store = Store(f"sqlite:///{c.db}")
    new_search(store, "remote", load_task(c.task), load_space(c.space), "openai/m",
                  SearchSettings(api_base="http://***:***@127.0.0.1:7/v1?key=***"))
    store.close()
    return list(argv)


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _hard_link(db: Path | None, path: Path) -> Path:
    assert db is not None
    path.hardlink_to(db)
    return path


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


CASES: dict[str, Callable[[Ctx], list[str]]] = {
    # --- task files
    "task-missing": lambda c: ["optimize", str(c.tmp / "nowhere.yaml"), "--space", str(c.space)],
    "task-invalid-yaml": lambda c: (_write(c.task, "name: tiny\ninputs: [review\n"), c.opt())[1],
    "task-not-utf8": lambda c: (_write(c.task, b"name: caf\xe9\n"), c.opt())[1],
    "task-not-a-mapping": lambda c: (_write(c.task, "- review\n- label\n"), c.opt())[1],
    "task-unknown-field": lambda c: (c.edit_task("labels:", "lables:"), c.opt())[1],
    "task-missing-field": lambda c: (c.edit_task("output: label\n", ""), c.opt())[1],
    "task-split-missing": lambda c: (c.edit_task("dev: dev.jsonl", "dev: nothere.jsonl"), c.opt())[1],
    "task-split-wrong-type": lambda c: (_write(c.task.parent / "dev.txt", "x"),
                                        c.edit_task("dev: dev.jsonl", "dev: dev.txt"), c.opt())[2],
    "task-unknown-metric": lambda c: (c.edit_task("metric: accuracy", "metric: bleu"), c.opt())[1],
    "task-metric-file-missing": lambda c: (c.edit_task("metric: accuracy", "metric: nothere.py:score"), c.opt())[1],
    "task-metric-no-function-name": lambda c: (c.edit_task("metric: accuracy", "metric: 'm.py:'"),
                                               _write(c.task.parent / "m.py", ""), c.opt())[2],
    "task-metric-no-such-function": lambda c: _metric_file(c, "def score_answer(example, prediction):\n    return 1.0\n"),
    "task-metric-import-fails": lambda c: _metric_file(c, "def score(example, prediction)\n    return 1.0\n"),
    "task-metric-bad-mapping": lambda c: (c.edit_task("metric: accuracy", "metric: {jury: {rubric: fair}}"), c.opt())[1],
    "task-metric-judge-string": lambda c: (c.edit_task("metric: accuracy", "metric: judge"), c.opt())[1],
    "task-judge-no-rubric": lambda c: (c.edit_task("metric: accuracy", "metric: {judge: {model: smollm2}}"), c.opt())[1],
    "task-judge-model-missing": lambda c: (c.edit_task("metric: accuracy", "metric: {judge: {rubric: fair, "
                                                       f"model: {c.tmp}/no-judge}}}}"), c.opt())[1],
    "task-single-label": lambda c: (c.edit_task("labels: [negative, positive]", "labels: [positive]"), c.opt())[1],
    "task-output-is-input": lambda c: (c.edit_task("inputs: [review]", "inputs: [review, label]"), c.opt())[1],
    # --- search spaces
    "space-missing": lambda c: ["optimize", str(c.task), "--space", str(c.tmp / "nospace.yaml")],
    "space-wrong-type": lambda c: (_write(c.space, c.space.read_text().replace("seed: 0", "seed: [0]")),
                                   c.opt())[1],
    "space-unknown-template": lambda c: (_write(c.space, c.space.read_text().replace("[plain, chat]", "[plain, fancy]")),
                                         c.opt())[1],
    "space-demo-count": lambda c: (_write(c.space, c.space.read_text().replace("counts: [0, 2]", "counts: [0, 100]")),
                                   c.opt())[1],
    "space-start": lambda c: (_write(c.space, c.space.read_text() + "start: best\n"), c.opt())[1],
    "space-format-casing": lambda c: (_write(c.space, c.space.read_text() + "formats:\n  casing: [shouting]\n"),
                                      c.opt())[1],
    "space-format-names": lambda c: (_write(c.space, c.space.read_text() + "formats:\n  field_names: [task]\n"
                                                                           "  names: {reveiw: Review}\n"), c.opt())[1],
    # --- data files
    "data-empty": lambda c: (_write(c.data("test"), ""), c.opt())[1],
    "data-not-utf8": lambda c: (_write(c.data("train"), b'{"review": "caf\xe9", "label": "positive"}\n'), c.opt())[1],
    "data-invalid-json": lambda c: (_write(c.data("dev"), '{"review": "ok", "label": "positive"}\n{"review": \n'),
                                    c.opt())[1],
    "data-row-missing-field": lambda c: (_write(c.data("dev"), '{"review": "fine", "label": "positive"}\n'
                                                               '{"text": "fine", "label": "positive"}\n'), c.opt())[1],
    "data-label-not-in-labels": lambda c: (_write(c.data("dev"), '{"review": "meh", "label": "neutral"}\n'), c.opt())[1],
    "data-example-too-long": lambda c: (_write(c.data("dev"), json.dumps({"review": "great " * 9000, "label": "positive"})
                                               + "\n"), c.opt())[1],
    "data-bad-answers": lambda c: (_write(c.data("dev"), '{"review": "meh", "label": ["positive", ""]}\n'), c.opt())[1],
    "data-prompt-too-long": lambda c: (_write(c.data("train"), "".join(json.dumps({"review": "fine " * 1500, "label": lab})
                                                                      + "\n" for lab in ("negative", "positive"))),
                                       c.opt())[1],
    # --- metrics while a search runs (the failed trial is kept, marked failed)
    "metric-raises": lambda c: _metric_file(c, "def score(example, prediction):\n    return 1 / 0\n"),
    "metric-out-of-range": lambda c: _metric_file(c, "def score(example, prediction):\n    return 2\n"),
    # --- changed data
    "changed-data-resume": lambda c: _changed_since_created(c, "resume", "moved", "--trials", "1"),
    "changed-data-worker": lambda c: _changed_since_created(c, "worker", "moved"),
    "changed-data-eval": lambda c: _changed_since_created(c, "eval", "moved"),
    # --- models
    "model-missing": lambda c: c.opt("--model", str(c.tmp / "no-model")),
    "model-not-gguf": lambda c: c.opt("--model", str(_write(c.tmp / "weights.bin", "x"))),
    "model-folder-without-config": lambda c: ((c.tmp / "ckpt").mkdir(), c.opt("--model", str(c.tmp / "ckpt")))[1],
    # --- database URLs
    "db-not-a-url": lambda c: ["list", "--db", "not a url"],
    "db-unknown-kind": lambda c: ["list", "--db", "nosuchdb://host/x"],
    "db-file-missing": lambda c: ["show", "done", "--db", f"sqlite:///{c.tmp}/missing.db"],
    "db-not-a-database": lambda c: ["show", "done", "--db", f"sqlite:///{_write(c.tmp / 'notes.db', 'hello' * 300)}"],
    "db-unreachable-server": lambda c: ["show", "done", "--db", PG_WITH_PASSWORD],
    "db-older-schema": lambda c: ["show", "legacy", "--db", f"sqlite:///{c.tmp / 'old.db'}"],
    "db-newer-schema": lambda c: (_sql(c.tmp / "e.db", "UPDATE ps_alembic_version SET version_num = '0099'"),
                                  ["db", "upgrade"])[1],
    "db-newer-optuna": lambda c: (_sql(c.tmp / "e.db", "UPDATE alembic_version SET version_num = 'v99.0.0.a'"),
                                  ["db", "upgrade"])[1],
    "db-not-promptsearch": lambda c: ["list", "--db", f"sqlite:///{_sql(c.tmp / 'notes.sqlite', 'CREATE TABLE notes (t)')}"],
    "db-optuna-only": lambda c: ["show", "done", "--db", f"sqlite:///{_optuna_db(c.tmp / 'optuna.db')}"],
    "db-read-only-resume": lambda c: ["resume", "done", "--trials", "1"],  # on a read-only copy (READ_ONLY)
    "db-read-only-worker": lambda c: ["worker", "done"],
    # --- command-line flags
    "flag-trials-zero": lambda c: c.opt("--trials", "0"),
    "flag-trials-not-a-number": lambda c: c.opt("--trials", "many"),
    "flag-unknown": lambda c: ["list", "--colour"],
    "flag-workers-zero": lambda c: c.opt("--workers", "0"),
    "flag-bad-choice": lambda c: c.opt("--sampler", "grid"),
    "flag-parallel-candidates-zero": lambda c: c.opt("--parallel-candidates", "0"),
    "flag-parallel-candidates-pruner": lambda c: c.opt("--parallel-candidates", "4", "--pruner", "wilcoxon"),
    "flag-missing-required": lambda c: ["resume"],
    # --- plug-ins (promptsearch/plugins.py)
    "plugin-missing": lambda c: c.opt("--plugin", "nothere_plugin"),
    "plugin-bad-name": lambda c: c.opt("--plugin", "my-metrics.py"),
    "plugin-stored-missing": lambda c: (_gone_plugin(c), ["resume", "done", "--trials", "1"])[1],
    "plugin-stored-missing-worker": lambda c: (_gone_plugin(c), ["worker", "done", "--trials", "1"])[1],
    "plugin-stored-missing-eval": lambda c: (_gone_plugin(c), ["eval", "done"])[1],
    "flag-objectives-unknown": lambda c: c.opt("--objectives", "score,latency"),
    "flag-objectives-pruner": lambda c: c.opt("--objectives", "score,prompt_tokens", "--pruner", "wilcoxon"),
    "flag-max-new-tokens-context": lambda c: c.opt("--max-new-tokens", "2048"),
    # --- names
    "name-unknown": lambda c: ["show", "nope"],
    "name-unknown-worker": lambda c: ["worker", "nope"],
    "name-duplicate": lambda c: ["optimize", str(c.task), "--space", str(c.space), "--name", "done"],
    "name-invalid": lambda c: ["optimize", str(c.task), "--space", str(c.space), "--name", "my search"],
    # --- export
    "export-no-completed-trial": lambda c: ["export", "empty"],
    "export-would-overwrite": lambda c: ["export", "done", "-o", str(_write(c.tmp / "keep.txt", "precious"))],
    "export-bad-pick": lambda c: ["export", "done", "--pick", "shortest-within", "2"],
    "export-folder-missing": lambda c: ["export", "done", "-o", str(c.tmp / "no" / "such" / "out.txt")],
    # --- after the search: show --examples, compare, run, check
    "examples-no-such-trial": lambda c: ["show", "done", "--examples", "--trial", "9"],
    "compare-same-trial": lambda c: ["compare", "done", "0", "0"],
    "run-old-export": lambda c: ["run", str(_exported(c, "old.json", old=True)), "--input",
                                 str(_write(c.tmp / "in.jsonl", '{"review": "fine"}\n'))],
    "run-input-missing-field": lambda c: ["run", "done", "--input",
                                          str(_write(c.tmp / "in.jsonl", '{"text": "fine"}\n'))],
    "check-baseline-other-task": lambda c: ["check", str(_exported(c, "p.json")), "--task", str(c.task),
                                            "--baseline", str(_exported(c, "other.json", output="sentiment"))],
    # --- disk
    "disk-full": lambda c: ["worker", "done", "--trials", "3"],  # its first write: raising the target
    # --- user text is printed as it is, never as markup (issue 12, class 1)
    "name-with-markup": lambda c: ["optimize", str(c.task), "--space", str(c.space), "--name", "rs[/x]"],
    "task-name-with-markup": lambda c: (c.edit_task("name: tiny", "name: '[/INST]'"), c.opt()[:-2])[1],
    # --- YAML that would be unbounded work (class 2)
    "yaml-alias-bomb": lambda c: (_write(c.space, "name: bomb\ninstructions: [x]\n" + "".join(
        f"l{i}: &l{i} [{', '.join([f'*l{i - 1}' if i else 'lol'] * 9)}]\n" for i in range(9))), c.opt())[1],
    "yaml-self-reference": lambda c: (_write(c.space, "name: loop\ninstructions: &i [x, *i]\n"), c.opt())[1],
    "yaml-duplicate-key": lambda c: (_write(c.space, c.space.read_text() + "seed: 1\n"), c.opt())[1],
    "yaml-huge-value": lambda c: (_write(c.space, c.space.read_text().replace("[plain, chat]", "[plain, " + "x" * 5000 + "]")),
                                  c.opt())[1],
    "yaml-nested-too-deep": lambda c: (_write(c.space, "name: deep\ninstructions: " + "[" * 3000 + "]" * 3000 + "\n"),
                                       c.opt())[1],
    # --- numbers out of range (class 3)
    "flag-seed-negative": lambda c: c.opt("--seed", "-1"),
    "flag-trials-huge": lambda c: c.opt("--trials", "99999999999999999999"),
    "flag-resamples-huge": lambda c: ["eval", "done", "--resamples", "1000000000"],
    "flag-budget-not-kind-number": lambda c: c.opt("--budget", "calls"),
    "flag-budget-unknown-kind": lambda c: c.opt("--budget", "money=3"),
    "flag-budget-out-of-range": lambda c: c.opt("--budget", "calls=10,tokens=0"),
    "flag-budget-twice": lambda c: c.opt("--budget", "calls=10", "--budget", "calls=20"),
    "flag-budget-dollars-local": lambda c: c.opt("--budget", "dollars=2.5"),
    "flag-budget-dry-run": lambda c: c.opt("--dry-run", "--budget", "seconds=0.5"),
    "resume-budget-not-a-number": lambda c: ["resume", "done", "--trials", "1", "--budget", "calls=many"],
    "flag-select-fraction-range": lambda c: c.opt("--select-fraction", "1.5"),
    "flag-select-fraction-empty-side": lambda c: c.opt("--select-fraction", "0.5", "--dev-limit", "1"),
    "flag-select-top-zero": lambda c: c.opt("--select-fraction", "0.5", "--select-top", "0"),
    "flag-race-with-pruner": lambda c: c.opt("--race", "--pruner", "halving"),
    "flag-race-start-without-race": lambda c: c.opt("--race-start", "8"),
    "flag-race-start-zero": lambda c: c.opt("--race", "--race-start", "0"),
    "flag-race-multi-objective": lambda c: c.opt("--race", "--objectives", "score,prompt_tokens"),
    "task-selection-fraction": lambda c: (c.edit_task("metric: accuracy", "metric: accuracy\nselection: {fraction: 2}"),
                                          c.opt())[1],
    "probe-no-demos": lambda c: ["probe", "done"],
    "probe-no-completed-trial": lambda c: ["probe", "empty"],
    "space-seed-huge": lambda c: (_write(c.space, c.space.read_text().replace("seed: 0", f"seed: {2**32}")), c.opt())[1],
    "space-propose-method": lambda c: (_write(c.space, c.space.read_text() + "propose:\n  methods: [induction, guess]\n"),
                                       c.opt())[1],
    "space-screen-keep": lambda c: (_write(c.space, c.space.read_text() + "propose:\n  screen: {examples: 8, keep: 0}\n"),
                                    c.opt())[1],
    # --- checked before the first write (class 4)
    "model-no-weights-workers": lambda c: (_write(c.tmp / "ckpt" / "config.json", '{"model_type": "llama"}'),
                                           c.opt("--workers", "2", "--model", str(c.tmp / "ckpt")))[1],
    # --- model files (class 6)
    "model-config-not-json": lambda c: (_write(c.tmp / "ckpt" / "config.json", "{broken"),
                                        c.opt("--model", str(c.tmp / "ckpt")))[1],
    "model-config-empty": lambda c: (_write(c.tmp / "ckpt" / "config.json", "{}"), c.opt("--model", str(c.tmp / "ckpt")))[1],
    "model-gguf-not-gguf": lambda c: c.opt("--model", str(_write(c.tmp / "model.gguf", "<html>not found</html>"))),
    # --- remote models on a label task (a scripted server in a thread: tests/fakeserver.py)
    "model-remote-no-logprobs": lambda c: c.opt("--model", "openai/m", "--api-base", _server("no-logprobs"),
                                                "--label-scoring", "loglikelihood"),
    "model-remote-first-token-no-logprobs": lambda c: c.opt("--model", "openai/m", "--api-base", _server("no-logprobs"),
                                                            "--label-scoring", "first-token"),
    "model-remote-server-error": lambda c: c.opt("--model", "openai/m", "--api-base", _server("fail")),
    "flag-concurrency-zero": lambda c: c.opt("--concurrency", "0"),
    # --- data files read by their formats (class 7)
    "data-input-a-list": lambda c: (_write(c.data("dev"), '{"review": ["good", "bad"], "label": "positive"}\n'), c.opt())[1],
    "data-input-a-boolean": lambda c: (_write(c.data("dev"), '{"review": true, "label": "positive"}\n'), c.opt())[1],
    "data-json-duplicate-key": lambda c: (_write(c.data("dev"), '{"review": "ok", "review": "no", "label": "positive"}\n'),
                                          c.opt())[1],
    "data-csv-wrong-field-count": lambda c: (_write(c.task.parent / "dev.csv", 'review,label\n"a\nmulti-line review",positive\n'
                                                                             'great, really,positive\n'),
                                             c.edit_task("dev: dev.jsonl", "dev: dev.csv"), c.opt())[2],
    # --- outputs never destroy what they point at (issue 25, class 1)
    "output-fifo": lambda c: ["export", "done", "--force", "-o", str(_fifo(c.tmp / "pipe"))],
    "output-folder": lambda c: ["report", "done", "--force", "-o", str(c.tmp)],
    "output-is-the-database": lambda c: ["export", "done", "--force", "-o", str(c.tmp / "e.db")],
    "output-hard-link-to-database": lambda c: ["export", "done", "--force", "-o", str(_hard_link(c.db, c.tmp / "copy.db"))],
    "output-wal-file": lambda c: ["report", "done", "--force", "-o", f"{c.db}-wal"],
    "output-empty-path": lambda c: ["export", "done", "-o", ""],
    "output-name-too-long": lambda c: ["export", "done", "-o", str(c.tmp / ("x" * 300))],
    "backup-onto-database": lambda c: ["db", "backup", "--all", "--force", "-o", str(c.tmp / "e.db")],
    "backup-name-or-all": lambda c: ["db", "backup", "-o", str(c.tmp / "b.db")],
    "backup-postgresql": lambda c: ["db", "backup", "--all", "-o", str(c.tmp / "b.db"), "--db", PG_WITH_PASSWORD],
    # --- API bases: http(s) only, credentials never shown, stored or ignored (issue 25, class 5)
    "api-base-file-url": lambda c: c.opt("--model", "openai/m", "--api-base", "file:///etc/passwd"),
    "api-base-malformed": lambda c: c.opt("--model", "openai/m", "--api-base", "http://bob:s3cret-pw@[::1/v1"),
    "api-base-bad-port": lambda c: c.opt("--model", "openai/m", "--api-base", "http://127.0.0.1:99999/v1"),
    "api-base-no-scheme": lambda c: c.opt("--model", "openai/m", "--api-base", "127.0.0.1:8000/v1"),
    "api-base-local-model": lambda c: c.opt("--api-base", "http://127.0.0.1:1/v1"),
    "proposer-api-base-local": lambda c: c.opt("--proposer-api-base", "http://127.0.0.1:1/v1"),
    "model-remote-unreachable-generation": lambda c: (_generation(c), c.opt(
        "--model", "openai/m", "--api-base", "http://bob:s3cret-pw@127.0.0.1:1/v1?api_key=k3y-v4lue"))[1],
    "judge-api-base-file-url": lambda c: (c.edit_task("metric: accuracy", "metric: {judge: {rubric: fair, model: "
                                                      "openai/j, api_base: 'file:///etc/passwd'}}"), c.opt())[1],
    "model-remote-credentials-resume": lambda c: _with_credentials(c, "resume", "remote", "--trials", "1"),
    # --- paths and names (class 8)
    "task-name-invalid": lambda c: (c.edit_task("name: tiny", "name: my task"), c.opt()[:-2])[1],
    # --- issue 25, class 6: failures of a file, a model or user code are one line, exit 2
    "model-weights-truncated": lambda c: c.opt("--model", str(_truncated_checkpoint(c))),
    "task-judge-weights-truncated": lambda c: (
        c.edit_task("metric: accuracy", f"metric: {{judge: {{rubric: fair, model: {_truncated_checkpoint(c)}}}}}"),
        c.edit_task("labels: [negative, positive]\n", ""), c.opt("--dev-limit", "2"))[2],
    "data-lone-surrogate": lambda c: (_write(c.data("dev"), '{"review": "fine", "label": "positive"}\n'
                                                            '{"review": "bad \\ud800 x", "label": "positive"}\n'),
                                      c.opt())[1],
    "metric-sys-exit": lambda c: _metric_file(c, "import sys\ndef score(example, prediction):\n    sys.exit(0)\n"),
    "task-metric-sys-exit-at-import": lambda c: _metric_file(c, "import sys\nsys.exit(0)\n"
                                                                "def score(example, prediction):\n    return 1.0\n"),
    # --- class 7: sizes counted before any tokenizer sees them
    "data-field-too-long": lambda c: (_write(c.data("dev"), json.dumps({"review": "x" * 1_000_001, "label": "positive"})
                                             + "\n"), c.opt())[1],
    "task-too-many-labels": lambda c: (c.edit_task("labels: [negative, positive]",
                                                   "labels: [" + ", ".join(f"l{i}" for i in range(257)) + "]"),
                                       c.opt())[1],
    # --- class 8: user code and paths
    "task-metric-outside-folder": lambda c: (_write(c.tmp / "elsewhere" / "m.py", "def score(e, p):\n    return 1.0\n"),
                                             c.edit_task("metric: accuracy", "metric: ../elsewhere/m.py:score"),
                                             c.opt())[2],
    "task-metric-dunder": lambda c: (_write(c.task.parent / "m.py", "def score(e, p):\n    return 1.0\n"),
                                     c.edit_task("metric: accuracy", "metric: m.py:__init__"), c.opt())[2],
    # --- class 9: messages that say what is really wrong
    "data-csv-unterminated-quote": lambda c: (_write(c.task.parent / "dev.csv", 'review,label\nfine,positive\n'
                                                                              '"never closed,negative\nok,positive\n'),
                                              c.edit_task("dev: dev.jsonl", "dev: dev.csv"), c.opt())[2],
    "data-input-empty": lambda c: (_write(c.data("dev"), '{"review": "", "label": "positive"}\n'), c.opt())[1],
    "data-label-normalization": lambda c: (c.edit_task("labels: [negative, positive]", "labels: [negative, positive, 'caf\u00e9']"),
                                           _write(c.data("dev"), '{"review": "x", "label": "cafe\\u0301"}\n'),
                                           c.opt())[2],
    "db-garbage-schema": lambda c: (_sql(c.tmp / "e.db", "UPDATE ps_alembic_version SET version_num = 'zz9x'"),
                                    ["db", "upgrade"])[1],
    "db-garbage-schema-show": lambda c: (_sql(c.tmp / "e.db", "UPDATE ps_alembic_version SET version_num = '0000'"),
                                         ["show", "done"])[1],
    "db-garbage-optuna": lambda c: (_sql(c.tmp / "e.db", "UPDATE alembic_version SET version_num = 'not-a-version'"),
                                    ["db", "upgrade"])[1],
    "task-labels-look-alike": lambda c: (c.edit_task("labels: [negative, positive]",
                                                     'labels: ["caf\u00e9", "cafe\u0301"]'), c.opt())[1],
}

# Cases that need more than files: which database they run against.
DB_OVERRIDES = {"db-older-schema": "v1"}
# Cases that run on a read-only copy of the database, in a folder `ro` (tests/dbfaults.py).
READ_ONLY = {"db-read-only-resume", "db-read-only-worker"}
# Cases that fail inside a trial of the new search 'new': the trial is kept, marked failed.
FAILED_TRIAL = {"metric-raises", "metric-out-of-range", "metric-sys-exit"}
# Cases that run in a subprocess (the full disk: SQLite may hit SIGBUS on a full tmpfs, never in pytest).
SUBPROCESS = {"disk-full"}
