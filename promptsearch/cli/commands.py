"""One function per subcommand: parse inputs, call the library, show the result."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from promptsearch.cli import display
from promptsearch.cli.args import positive, write_output
from promptsearch.config import load_space, load_task
from promptsearch.config.task import check_name
from promptsearch.errors import NotFoundError, UserError
from promptsearch.export import EXPORTERS, render_export
from promptsearch.search import SearchSettings, create_search, open_parts, run_search
from promptsearch.search.checks import check_unchanged, preflight
from promptsearch.search.runner import check_data
from promptsearch.search.sampling import PRUNERS, SAMPLERS
from promptsearch.search.workers import check_context
from promptsearch.cli.workers import run_pool
from promptsearch.search.results import (proposal_lineage, best, completed_trials, finished_trials, leaderboard,
                                         pruned_trials, trial_counts, trial_feedback)
from promptsearch.storage import Store, mask_url
from promptsearch.strategies import check_space

console = display.console


def add_parsers(sub, common) -> None:
    opt = sub.add_parser("optimize", parents=[common], help="start a new search")
    opt.set_defaults(func=optimize)
    opt.add_argument("task", help="task YAML file (see examples/)")
    opt.add_argument("--space", default="search_spaces/default.yaml", help="search-space YAML file")
    opt.add_argument("--trials", type=positive("--trials"), default=20, help="trials to complete")
    opt.add_argument("--name", help="name of the search (default: the task's name)")
    opt.add_argument("--model", default="smollm2",
                     help="'smollm2' (the embedded model), a local Hugging Face model folder, a .gguf file, "
                          "or a remote 'provider/model' (e.g. openai/gpt-4o-mini; generation tasks only)")
    opt.add_argument("--api-base", help="remote models: an OpenAI-compatible server's URL, e.g. "
                                        "http://127.0.0.1:8000/v1 (`promptsearch serve`, vLLM, Ollama)")
    opt.add_argument("--dev-limit", type=positive("--dev-limit"), help="score on the first N dev examples only")
    opt.add_argument("--seed", type=int, default=0, help="sampler seed")
    opt.add_argument("--sampler", default="tpe", choices=SAMPLERS.names())
    opt.add_argument("--batch-size", type=positive("--batch-size"), default=32)
    opt.add_argument("--max-new-tokens", type=positive("--max-new-tokens"), default=32,
                     help="generation tasks: longest answer in tokens")
    opt.add_argument("--label-scoring", default="sum", choices=("sum", "mean"),
                     help="label tasks: rank labels by summed (default) or mean token log-probability; "
                          "mean is fair to labels of different token lengths ('1' vs '10')")
    opt.add_argument("--pruner", default="none", choices=PRUNERS.names(),
                     help="score dev in chunks and stop losing candidates early")
    opt.add_argument("--chunk-size", type=positive("--chunk-size"), default=16,
                     help="dev examples per step when a pruner is on")
    opt.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    opt.add_argument("--dtype", choices=("fp32", "bf16"), help="default: bf16 on cuda, fp32 on cpu")
    opt.add_argument("--proposer", help="model that writes instruction proposals when the space has a "
                     "`propose` block: a local model (folder, .gguf, 'smollm2') or a dspy.LM string such as "
                     "openai/gpt-4o-mini (default: the task's model)")
    opt.add_argument("--proposer-api-base", help="base URL of an OpenAI-compatible server for --proposer")
    opt.add_argument("--workers", type=positive("--workers"), default=1,
                     help="run the trials in N worker processes sharing the --trials target (default: 1, "
                          "in this process); more can join with `promptsearch worker NAME`")

    res = sub.add_parser("resume", parents=[common], help="continue a stopped search")
    res.set_defaults(func=resume)
    res.add_argument("name")
    res.add_argument("--trials", type=positive("--trials"), required=True, help="more trials to complete")

    show = sub.add_parser("show", parents=[common], help="settings, trial counts and leaderboard")
    show.set_defaults(func=show_search)
    show.add_argument("name")
    show.add_argument("--top", type=positive("--top"), default=5)

    sub.add_parser("list", parents=[common], help="every search in the database").set_defaults(func=list_searches)

    exp = sub.add_parser("export", parents=[common], help="write the best prompt")
    exp.set_defaults(func=export)
    exp.add_argument("name")
    exp.add_argument("--format", default="text", choices=EXPORTERS.names())
    exp.add_argument("--force", action="store_true", help="overwrite an existing -o file")
    exp.add_argument("-o", "--output", help="file to write (default: standard output)")


def _load_lm(model: str, settings: SearchSettings):
    from promptsearch.lm import load_lm  # torch + transformers: imported only for a local model
    with console.status(f"loading model {model} …"):
        return load_lm(model, device=settings.device, dtype=settings.dtype, batch_size=settings.batch_size,
                       api_base=settings.api_base)


def optimize(args: argparse.Namespace) -> int:
    task = load_task(args.task)
    space = load_space(args.space)
    check_space(space)
    name = check_name(args.name or task.name, "--name")
    settings = SearchSettings(seed=args.seed, dev_limit=args.dev_limit, batch_size=args.batch_size,
                              sampler=args.sampler, max_new_tokens=args.max_new_tokens,
                              device=args.device, dtype=args.dtype, pruner=args.pruner,
                              chunk_size=args.chunk_size, api_base=args.api_base, proposer=args.proposer,
                              proposer_api_base=args.proposer_api_base, label_scoring=args.label_scoring)
    check_data(task)
    store = Store(args.db)
    if store.find_search(name) is not None:  # fail before the model loads
        raise UserError(f"a search named '{name}' already exists in {mask_url(args.db)}; "
                        f"continue it with `promptsearch resume {name} --trials N` or choose another --name")
    if args.workers > 1:  # the workers load the model; here it is loaded for the checks only
        from promptsearch.lm.loading import resolve_spec
        from promptsearch.lm.remote import is_remote_spec
        if not is_remote_spec(args.model):
            resolve_spec(args.model)
        _preflight(task, space, _load_lm(args.model, settings), settings)  # the model is let go after it
        record = create_search(store, name, task, space, args.model, settings)
        store.set_trial_target(record, args.trials)
        console.print(f"search [bold]{name}[/bold]: task {task.name}, space {space.name}, "
                      f"model {args.model}, {args.workers} workers")
        return run_pool(store, record, args.db, args.workers, args.trials)
    lm = _load_lm(args.model, settings)
    if task.is_classification and not getattr(lm, "supports_loglikelihood", True):
        raise UserError(f"--model {args.model}: a remote model gives no log-likelihood to rank labels with; "
                        f"use a local model, or drop `labels` from {args.task} to score by generation")
    check_context(task, lm)
    _preflight(task, space, lm, settings)
    record = create_search(store, name, task, space, args.model, settings)
    store.set_trial_target(record, args.trials)  # what workers joining later aim at
    console.print(f"search [bold]{name}[/bold]: task {task.name}, space {space.name}, model {lm.name}")
    return _run(store, record, lm, args.trials)


def _preflight(task, space, lm, settings: SearchSettings) -> None:
    """Context, labels and metric checks (search/checks.py); warnings go to stderr, literally."""
    for warning in preflight(task, space, lm, settings):
        display.err_console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)


def resume(args: argparse.Namespace) -> int:
    store = Store(args.db, create=False)
    record = store.get_search(args.name)
    check_unchanged(record)  # before the model loads and before anything is written
    task, _, settings = open_parts(record)
    lm = _load_lm(record.model, settings)
    check_context(task, lm)
    store.raise_trial_target(record, args.trials)  # so workers joining later aim at the new count
    console.print(f"resuming [bold]{record.name}[/bold] "
                  f"({len(completed_trials(store, record))} completed trials so far)")
    return _run(store, record, lm, args.trials)


def _run(store: Store, record, lm, n_trials: int) -> int:
    already = len(finished_trials(store, record))
    try:
        with display.TrialProgress(n_trials, already) as bar:
            summary = run_search(store, record, lm, n_trials, on_trial=bar.update)
    except KeyboardInterrupt:
        done = len(completed_trials(store, record))
        display.err_console.print(f"interrupted: {done} completed trials are saved; continue with "
                                  f"`promptsearch resume {record.name} --trials N`")
        return 130
    if summary.failed_stale:
        console.print(f"marked {len(summary.failed_stale)} trial(s) left running by a stopped process as failed")
    console.print(display.run_summary_line(summary))
    console.print(display.leaderboard_table(leaderboard(store, record, 5)))
    console.print(display.best_prompt_panel(best(store, record)))
    return 0


def show_search(args: argparse.Namespace) -> int:
    store = Store(args.db, read_only=True)
    record = store.get_search(args.name)
    console.print(display.settings_table(record, trial_counts(store, record), mask_url(args.db)))
    entries = leaderboard(store, record, args.top)
    if entries:
        console.print(display.leaderboard_table(entries))
        lost = trial_feedback(store, record, entries[0].trial)
        if lost:
            console.print(display.feedback_table(entries[0].trial, lost))
    else:
        console.print("no completed trials yet")
    pruned = pruned_trials(store, record)
    if pruned:
        console.print(display.pruned_table(store, record, pruned[-args.top:]))
    proposals = proposal_lineage(store, record)
    if proposals:
        console.print(display.proposals_table(proposals))
    return 0


def list_searches(args: argparse.Namespace) -> int:
    try:
        store = Store(args.db, read_only=True)
    except NotFoundError:
        console.print(f"no searches: {mask_url(args.db)} does not exist yet")
        return 0
    rows = []
    for record in store.list_searches():
        trials = completed_trials(store, record)
        rows.append((record, len(trials), max((t.value for t in trials), default=None)))
    console.print(display.searches_table(rows) if rows else f"no searches in {mask_url(args.db)}")
    return 0


def export(args: argparse.Namespace) -> int:
    store = Store(args.db, read_only=True)
    record = store.get_search(args.name)
    text = render_export(store, record, best(store, record), args.format)
    if args.output:
        path = Path(args.output)
        if not path.parent.exists():
            raise UserError(f"-o: folder {path.parent} does not exist")
        if path.exists() and not args.force:
            raise UserError(f"-o: {path} exists; pass --force to overwrite it")
        write_output(path, text)
        display.err_console.print(f"wrote {args.format} to {path}")
    else:
        sys.stdout.write(text)  # exactly the exported bytes: the answer follows the last character
        sys.stdout.flush()
    return 0

