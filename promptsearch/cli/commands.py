"""One function per subcommand: parse the arguments, call the service layer, show the result."""
from __future__ import annotations

import argparse
import sys

from promptsearch import service
from promptsearch.cli import display
from promptsearch.cli.args import ranged
from promptsearch.evaluate.labels import LABEL_SCORINGS
from promptsearch.export import EXPORTERS
from promptsearch.search import SearchSettings
from promptsearch.search.sampling import PRUNERS, SAMPLERS
from promptsearch.service.hooks import plural
from promptsearch.storage import mask_url

console = display.console


def add_parsers(sub, common) -> None:
    opt = sub.add_parser("optimize", parents=[common], help="start a new search")
    opt.set_defaults(func=optimize)
    opt.add_argument("task", help="task YAML file (see examples/)")
    opt.add_argument("--space", default="search_spaces/default.yaml", help="search-space YAML file")
    opt.add_argument("--trials", type=ranged("--trials", "trials"), default=20, help="trials to complete")
    opt.add_argument("--name", help="name of the search (default: the task's name)")
    opt.add_argument("--model", default="smollm2",
                     help="'smollm2' (the embedded model), a local Hugging Face model folder, a .gguf file, "
                          "or a remote 'provider/model' (e.g. openai/NAME with --api-base; label tasks need "
                          "a server that returns prompt log-probs: vLLM, promptsearch serve)")
    opt.add_argument("--api-base", help="remote models: an OpenAI-compatible server's URL, e.g. "
                                        "http://127.0.0.1:8000/v1 (`promptsearch serve`, vLLM, Ollama)")
    opt.add_argument("--concurrency", type=ranged("--concurrency", "concurrency"), default=8,
                     help="remote models: requests in flight at once (1 to 1024, default 8; kept by resume)")
    opt.add_argument("--dev-limit", type=ranged("--dev-limit", "dev_limit"),
                     help="score on the first N dev examples only")
    opt.add_argument("--select-fraction", type=float, metavar="F",
                     help="hold this part of dev (0 < F < 1, drawn by --seed) out of the search; the top "
                          "--select-top candidates by dev are re-scored on it at the end and the pick is "
                          "made there (docs/using_results.md; kept by resume and worker)")
    opt.add_argument("--select-top", type=int, default=5, metavar="K",
                     help="with --select-fraction: candidates re-scored on the held-out part (default 5)")
    opt.add_argument("--race", action="store_true",
                     help="race for the lead: score each candidate on part of dev first and go on (twice the "
                          "examples per rung, finally all of dev) only while it could still beat the best; "
                          "losers stop early (docs/using_results.md; kept by resume and worker)")
    opt.add_argument("--race-start", type=ranged("--race-start", "race_start"), metavar="N",
                     help="with --race: dev examples in the first rung (default: a quarter of dev, at least 8)")
    opt.add_argument("--seed", type=ranged("--seed", "seed"), default=0, help="sampler seed (0 to 2**32-1)")
    opt.add_argument("--sampler", default="tpe", choices=SAMPLERS.names())
    opt.add_argument("--batch-size", type=ranged("--batch-size", "batch_size"), default=32)
    opt.add_argument("--max-new-tokens", type=ranged("--max-new-tokens", "max_new_tokens"), default=32,
                     help="generation tasks: longest answer in tokens")
    opt.add_argument("--label-scoring", default="auto", choices=LABEL_SCORINGS,
                     help="label tasks: how a label is read from the model. auto (default): the first the "
                          "model supports of loglikelihood (= sum; mean is fair to labels of different token "
                          "lengths), first-token (top log-probs of one generated token) and generate (a "
                          "greedy answer mapped to a label); see docs/remote.md")
    opt.add_argument("--pruner", default="none", choices=PRUNERS.names(),
                     help="score dev in chunks and stop losing candidates early")
    opt.add_argument("--objectives", default="score",
                     help="what the search optimises, comma-separated: score (default), or score,prompt_tokens "
                          "for accuracy against prompt length (a multi-objective study; no --pruner)")
    opt.add_argument("--chunk-size", type=ranged("--chunk-size", "chunk_size"), default=16,
                     help="dev examples per step when a pruner is on")
    opt.add_argument("--parallel-candidates", type=ranged("--parallel-candidates", "parallel_candidates"),
                     default=1, help="ask for K trials at once and score their K x dev prompts in one model "
                                     "call (fills a GPU; TPE then uses its constant liar); no pruner")
    opt.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    opt.add_argument("--dtype", choices=("fp32", "bf16"), help="default: bf16 on cuda, fp32 on cpu")
    opt.add_argument("--proposer", help="model that writes instruction proposals when the space has a "
                     "`propose` block: a local model (folder, .gguf, 'smollm2') or a dspy.LM string such as "
                     "openai/gpt-4o-mini (default: the task's model)")
    opt.add_argument("--proposer-api-base", help="base URL of an OpenAI-compatible server for --proposer")
    opt.add_argument("--workers", type=ranged("--workers", "workers"), default=1,
                     help="run the trials in N worker processes sharing the --trials target (default: 1, "
                          "in this process); more can join with `promptsearch worker NAME`")
    opt.add_argument("--budget", action="append", metavar="KIND=N",
                     help="stop before the search spends more than this: calls=5000, tokens=2e6 (prompt + "
                          "generated), seconds=600 or (remote models) dollars=2.5; repeat or comma-separate")
    opt.add_argument("--dry-run", action="store_true",
                     help="print the planned trials, model calls and tokens, and write nothing")

    res = sub.add_parser("resume", parents=[common], help="continue a stopped search")
    res.set_defaults(func=resume)
    res.add_argument("name")
    res.add_argument("--trials", type=ranged("--trials", "trials"),
                     help="more trials to complete (default: those the search still needs to reach its target)")
    res.add_argument("--budget", action="append", metavar="KIND=N",
                     help="set or raise the search's budget (calls, tokens, seconds, dollars), e.g. calls=8000")
    res.add_argument("--concurrency", type=ranged("--concurrency", "concurrency"),
                     help="remote models: requests in flight at once for this run (default: the search's)")

    show = sub.add_parser("show", parents=[common], help="settings, trial counts and leaderboard")
    show.set_defaults(func=show_search)
    show.add_argument("name")
    show.add_argument("--top", type=ranged("--top", "top"), default=5)

    sub.add_parser("list", parents=[common], help="every search in the database").set_defaults(func=list_searches)

    exp = sub.add_parser("export", parents=[common], help="write the best prompt")
    exp.set_defaults(func=export)
    exp.add_argument("name")
    exp.add_argument("--format", default="text", choices=EXPORTERS.names())
    exp.add_argument("--force", action="store_true", help="overwrite an existing -o file")
    exp.add_argument("-o", "--output", help="file to write (default: standard output)")
    exp.add_argument("--pick", nargs="+", metavar="RULE",
                     help="which candidate: best (default), or shortest-within TOL: the shortest prompt "
                          "whose dev score is within TOL of the best (e.g. --pick 'shortest-within 0.01')")


def optimize(args: argparse.Namespace) -> int:
    settings = SearchSettings(seed=args.seed, dev_limit=args.dev_limit, batch_size=args.batch_size,
                              sampler=args.sampler, max_new_tokens=args.max_new_tokens,
                              device=args.device, dtype=args.dtype, pruner=args.pruner,
                              chunk_size=args.chunk_size, api_base=args.api_base, proposer=args.proposer,
                              proposer_api_base=args.proposer_api_base, label_scoring=args.label_scoring,
                              parallel_candidates=args.parallel_candidates, concurrency=args.concurrency,
                              objectives=args.objectives, select_fraction=args.select_fraction,
                              select_top=args.select_top, race=args.race, race_start=args.race_start)
    if args.dry_run:
        plan = service.plan(args.db, args.task, args.space, trials=args.trials, name=args.name, model=args.model,
                            settings=settings, budget=args.budget, hooks=display.hooks())
        console.print(display.plan_table(plan))
        for note in plan.notes:
            console.print(note, style="dim", markup=False, highlight=False)
        return 0
    result = service.optimize(args.db, args.task, args.space, trials=args.trials, name=args.name,
                              model=args.model, settings=settings, workers=args.workers, hooks=display.hooks(),
                              budget=args.budget)
    return show_run(result)


def resume(args: argparse.Namespace) -> int:
    return show_run(service.resume(args.db, args.name, args.trials, hooks=display.hooks(), budget=args.budget,
                                   concurrency=args.concurrency))


def show_run(result: service.RunResult) -> int:
    """What a run ends with: its summary, the leaderboard and the best prompt."""
    store, record = result.store, result.record
    if result.summary is None:  # worker processes
        return display.pool_result(result)
    if result.summary.failed_stale:
        console.print(f"marked {plural(len(result.summary.failed_stale), 'trial')} left running by a stopped "
                      f"process as failed")
    if result.summary.wall_seconds or result.summary.stopped:  # something ran (resume: maybe nothing left)
        console.print(display.run_summary_line(result.summary))
    view = service.standing(store, record)
    if result.summary.stopped:
        console.print(result.summary.stopped, style="bold", markup=False, highlight=False)
        if not view.completed:  # stopped before any trial (a budget): nothing to rank
            return 0
    console.print(display.leaderboard_table(view.entries))
    display.print_evidence(view.evidence)
    display.print_selection(service.selection(store, record))
    display.print_race(service.race_summary(store, record))
    console.print(display.best_prompt_panel(service.best_entry(store, record)))
    return 0


def show_search(args: argparse.Namespace) -> int:
    view = service.overview(args.db, args.name, args.top)
    rows = display.budget_rows(view.budget, view.spent)
    if view.plain_as_user_message:
        rows.append(("plain layout sent as", "one user message (the server has no /v1/completions)"))
    console.print(display.settings_table(view.record, view.counts, mask_url(args.db), rows))
    if view.entries:
        console.print(display.leaderboard_table(view.entries))
        display.print_evidence(view.evidence)
        display.print_selection(view.selection)
        display.print_race(view.race)
        if view.feedback:
            console.print(display.feedback_table(view.entries[0].trial, view.feedback))
    else:
        console.print("no completed trials yet")
    if view.pruned:
        console.print(display.pruned_table(view.store, view.record, view.pruned))
    if view.proposals:
        console.print(display.proposals_table(view.proposals))
    if view.probe:
        console.print(display.probe_table(view.probe))
        console.print(view.probe["reading"], style="bold", markup=False, highlight=False)
    if view.formats:
        console.print(display.format_table(view.formats))
    if view.front:
        console.print(display.front_table(view.front))
    return 0


def list_searches(args: argparse.Namespace) -> int:
    rows = service.searches(args.db)
    if rows is None:
        console.print(f"no searches: {mask_url(args.db)} does not exist yet")
    else:
        console.print(display.searches_table(rows) if rows else f"no searches in {mask_url(args.db)}")
    return 0


def export(args: argparse.Namespace) -> int:
    # `--pick shortest-within 0.2` and `--pick "shortest-within 0.2"` (as the API spells it) alike
    pick = " ".join(args.pick) if args.pick else None
    text = service.export(args.db, args.name, args.format, args.output, overwrite=args.force, pick=pick,
                          hooks=display.hooks())
    if args.output:
        display.err_console.print(f"wrote {args.format} to {args.output}", markup=False, highlight=False)
    else:
        sys.stdout.write(text)  # exactly the exported bytes: the answer follows the last character
        sys.stdout.flush()
    return 0
