"""Search quality at an equal MODEL-CALL budget (issue 14, item 8): does the new search (formats,
screened proposals, reflection) find better prompts than today's, than plain TPE, random search,
the zero-shot prompt and a sensible hand prompt — on held-out test data, with 95% intervals?

    python benchmarks/search_quality.py --quick                # 4 BBH tasks, small budget (~15-20 min, 2 idle cores)
    python benchmarks/search_quality.py --json quality.json    # SST-2, TREC, 5 BBH tasks (hours on a CPU)
    python benchmarks/search_quality.py --tasks sst2 --budget-trials 4 --dev-limit 8 --test-limit 20   # a smoke run

Every search arm runs trials until it has made --budget-calls model calls (default: what
--budget-trials trials of uncached dev scoring cost), counted by a proxy around the model: label
log-likelihood requests, generated sequences, and the proposer's generations all count; cached
evaluations cost nothing. The arm that crosses the budget finishes its trial, so arms end within
one trial (plus a proposal round) of each other: the table shows each arm's calls, and a check line
compares the proxy's count with the search loop's own (arms without proposals make exactly one call
per label, or one generation, per dev example they scored). The zero-shot and hand-prompt arms are
one fixed candidate each. Arms and tasks: benchmarks/quality_arms.py. Every search arm's trial 0 is
the space's start point (search/start.py: the first instruction with 4 demos, each dimension's first
choice), then TPE's 5 seeded random start-up draws (search/sampling.py), the same draws as the
random arm's: with a budget of a few trials the two arms find the same prompts. Tasks can run as
separate processes (one per core), each with --json; benchmarks/quality_merge.py reports them as one.

Held out: each winner is scored on the first --test-limit test examples with the project's
held-out verdict (`promptsearch.evaluate_heldout`, the same as `promptsearch eval`), against the
hand prompt as the baseline: a 95% percentile-bootstrap interval for its score, and for its
difference to the hand prompt with a paired test. The winner's curse is a number in every table:
the pick's dev score (the maximum it was chosen as), its test score and dev − test, and the same
for the start prompt (the search's trial 0, scored on the same test examples; for a fixed arm its
one candidate), with the pick against the start on test (paired test); below the table, the mean
(dev − test) per arm over tasks (quality_merge.py prints the same over merged runs). Dev is the
first --dev-limit dev examples (BIG-Bench Hard has 75: all of them). Data is read from
../shared/datasets (--data); task YAMLs are written to a temp dir; nothing is copied into the project.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml  # noqa: E402
from quality_arms import (  # noqa: E402
    ARM_SETTINGS,
    ARMS,
    DEFAULT_ARMS,
    DSPY_ARMS,
    FIXED_ARMS,
    SPACES,
    TASKS,
    CountingLM,
    arm_space,
    find_datasets,
    read_space,
    task_file,
)
from quality_picks import pick_rule_fields, pick_rule_summary  # noqa: E402
from quality_winners import (  # noqa: E402
    FORMAT_PREFIX,
    format_choice,
    format_spread,
    gap_summary,
    gap_table,
    num,
    provenance,
    shown,
    target_verdict,
    verdict_line,
)

import promptsearch as ps  # noqa: E402
from promptsearch.data import load_split  # noqa: E402
from promptsearch.search.pick import select  # noqa: E402
from promptsearch.search.results import finished_trials  # noqa: E402
from promptsearch.search.runner import open_context  # noqa: E402

DEFAULT_TASKS = ["sst2", "trec", "boolean_expressions", "sports_understanding", "web_of_lies", "navigate",
                 "object_counting"]
QUICK = {"tasks": ["sports_understanding", "boolean_expressions", "web_of_lies", "navigate"],
         "budget_trials": 6, "dev_limit": 32, "test_limit": 125, "spread_variants": 4}
log = logging.getLogger("benchmarks.search_quality")


class _Spent(Exception):
    """Raised from the trial callback once an arm has made its budget of model calls."""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help=f"the quick preset: {', '.join(f'{k}={v}' for k, v in QUICK.items())} (other flags override)")
    p.add_argument("--tasks", nargs="+", help=f"default: {' '.join(DEFAULT_TASKS)}; known: {', '.join(TASKS)}")
    p.add_argument("--arms", nargs="+", default=list(DEFAULT_ARMS), choices=ARMS,
                   help=f"default: {' '.join(DEFAULT_ARMS)}")
    p.add_argument("--budget-trials", type=int,
                   help="budget in trial-equivalents: this many uncached dev scorings (default 30)")
    p.add_argument("--budget-calls", type=int, help="budget in model calls per arm (overrides --budget-trials)")
    p.add_argument("--max-trials", type=int, help="stop an arm after this many trials even under budget "
                                                  "(every candidate cached; default 5 x budget-trials + 10)")
    p.add_argument("--dev-limit", type=int, help="dev examples (default 100; BIG-Bench Hard has 75)")
    p.add_argument("--test-limit", type=int, help="test examples (default 200)")
    p.add_argument("--spread-variants", type=int, help="formats scored for the spread (default 8)")
    p.add_argument("--spread-limit", type=int, help="test examples for the spread (default: --test-limit)")
    p.add_argument("--format-prefix", default=FORMAT_PREFIX, help="Optuna parameters that are format choices")
    p.add_argument("--new-space", type=Path, help="a space file for the new arm, used for every task")
    p.add_argument("--new-propose", help="YAML mapping of propose settings the new arm adds "
                                         "(default: quality_arms.NEW_PROPOSE)")
    p.add_argument("--mipro-candidates", type=int,
                   help="MIPROv2's num_candidates (default: budget-trials / 5, from 3 to 6, the 'light' mode's)")
    p.add_argument("--dspy-max-tokens", type=int, default=96,
                   help="longest proposal or reflection the DSPy arms may generate, in tokens (default 96)")
    p.add_argument("--mipro-lean", action="store_true",
                   help="MIPROv2 without its data-aware and program-aware proposer steps (about a dozen long "
                        "prompt-model calls): for smoke runs; the default is MIPROv2's own")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default="smollm2")
    p.add_argument("--device")
    p.add_argument("--dtype")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="torch CPU threads")
    p.add_argument("--data", type=Path, default=find_datasets(), help="the shared datasets folder")
    p.add_argument("--workdir", type=Path, help="keep task files and databases here (default: a temp dir)")
    p.add_argument("--json", help="write the table, spreads and verdict as JSON")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    defaults = {"tasks": DEFAULT_TASKS, "budget_trials": 30, "dev_limit": 100, "test_limit": 200,
                "spread_variants": 8}
    for key, value in {**defaults, **(QUICK if args.quick else {})}.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.spread_limit is None:
        args.spread_limit = args.test_limit
    if args.mipro_candidates is None:
        args.mipro_candidates = min(6, max(3, args.budget_trials // 5))
    if args.max_trials is None:
        args.max_trials = 5 * args.budget_trials + 10
    unknown = [t for t in args.tasks if t not in TASKS]
    if unknown:
        p.error(f"--tasks: unknown {', '.join(unknown)}; known: {', '.join(TASKS)}")
    missing = [f for f in (TASKS[t].folder for t in args.tasks) if f and not (args.data / f).is_dir()]
    if missing:
        p.error(f"--data: {args.data} has no {', '.join(missing)}; give the shared datasets folder "
                f"(../shared/datasets)")
    args.new_propose_map = yaml.safe_load(args.new_propose) if args.new_propose else None
    if args.new_propose_map is not None and not isinstance(args.new_propose_map, dict):
        p.error("--new-propose: must be a YAML mapping, e.g. '{methods: [induction, reflection]}'")
    return args


def budget_calls(args, task: ps.TaskSpec) -> tuple[int, int]:
    """(model calls per arm, dev examples): --budget-calls, or --budget-trials uncached dev scorings
    (each dev example costs one call per label, or one generation)."""
    n_dev = len(load_split(task, "dev", args.dev_limit))
    per_example = len(task.labels) if task.labels else 1
    return (args.budget_calls or args.budget_trials * n_dev * per_example), n_dev


def run_arm(args, lm, bench, task_path: Path, space_path: Path, arm: str, db: Path, budget: int) -> dict:
    """Create the arm's search (model checks with the bare model), then run it through the API with
    the counting proxy until the budget is spent; fixed arms run their one candidate."""
    store = ps.Store(f"sqlite:///{db}")
    settings = {"seed": args.seed, "dev_limit": args.dev_limit, "max_new_tokens": bench.max_new_tokens,
                "sampler": "random" if arm == "random" else "tpe", "device": args.device, "dtype": args.dtype,
                **ARM_SETTINGS.get(arm, {})}
    record = ps.create_search(store, f"{bench.name}-{arm.replace('+', '_')}", task_path, space_path,
                              model=args.model, lm=lm, **settings)
    counter = CountingLM(lm)
    scored = [0]  # dev examples the model scored, as the search loop reports them
    reserve = selection_reserve(store, record)  # the final re-scoring's calls come out of the budget

    def on_trial(event) -> None:
        scored[0] += event.examples_computed
        if arm not in FIXED_ARMS and counter.calls >= budget - reserve:
            raise _Spent()

    start, cpu, capped = time.perf_counter(), time.process_time(), False
    try:
        ps.run_search(store, record, 1 if arm in FIXED_ARMS else args.max_trials, lm=counter, on_trial=on_trial)
        capped = arm not in FIXED_ARMS
    except _Spent:  # the budget stopped the run from outside: re-score on the selection split as a run's end does
        if reserve:
            select(open_context(store, record, counter))
    return {"store": store, "record": record, "calls": counter.calls,
            "loglikelihood_requests": counter.loglikelihood_requests,
            "generated_sequences": counter.generated_sequences, "scored_examples": scored[0], "capped": capped,
            "trials": len(finished_trials(store, record)), "search_seconds": time.perf_counter() - start,
            "search_cpu_seconds": time.process_time() - cpu}


def selection_reserve(store, record) -> int:
    """Model calls the end-of-run re-scoring on a selection split costs: top x held-out examples x
    calls per example (0 without a split)."""
    s = record.settings
    if s.get("select_fraction") is None:
        return 0
    n = len(load_split(ps.TaskSpec.from_dict(record.task), "dev", s.get("dev_limit")))
    per_example = len(record.task.get("labels") or ()) or 1
    return s["select_top"] * round(s["select_fraction"] * n) * per_example


def count_check(rows: list[dict]) -> str:
    """The proxy's count against the search loop's own: an arm without proposals makes exactly one
    call per label (one generation) for each dev example it scored. Proposal arms make more."""
    bad = [f"{r['task']}/{r['arm']} ({r['calls']} calls for {r['scored_examples']} examples x {r['per_example']})"
           for r in rows if r["arm"] in ("tpe", "tpe+formats", "random", "zero-shot", "hand")
           and r["calls"] != r["scored_examples"] * r["per_example"]]
    return "call count check: " + ("MISMATCH " + ", ".join(bad) if bad else
                                   "ok (arms without proposals: calls = scored dev examples x calls per example)")


def held_out(args, lm, bench, run: dict, arm: str, hand_json: Path) -> dict:
    """The winner on test against the hand prompt (promptsearch's held-out verdict), its provenance."""
    store, record = run["store"], run["record"]
    start, cpu = time.perf_counter(), time.process_time()
    verdict = ps.evaluate_heldout(store, record, split="test", baseline=str(hand_json), limit=args.test_limit,
                                  lm=lm, save=False, seed=args.seed)
    top = ps.best(store, record)
    b, d = verdict.best, verdict.difference
    vs_first = verdict if arm in FIXED_ARMS else ps.evaluate_heldout(
        store, record, split="test", baseline="first", limit=args.test_limit, lm=lm, save=False, seed=args.seed)
    first = vs_first.best if arm in FIXED_ARMS else vs_first.baseline  # a fixed arm's one trial is its start
    return {"task": bench.name, "kind": bench.kind, "arm": arm,
            **{k: run[k] for k in ("calls", "loglikelihood_requests", "generated_sequences", "scored_examples",
                                   "capped", "trials")},
            "per_example": len(record.task.get("labels") or ()) or 1,  # calls per dev example
            "dev": top.score, "test": b.score.estimate, "test_low": b.score.low, "test_high": b.score.high,
            "gap": top.score - b.score.estimate, **start_fields(first, vs_first, arm in FIXED_ARMS),
            "vs_hand": d.estimate, "vs_hand_low": d.low, "vs_hand_high": d.high, "vs_hand_p": verdict.p_value,
            "test_name": verdict.test, "test_examples": verdict.examples,
            "instruction": top.candidate.instruction, "source": provenance(store, record, top),
            "format": format_choice(store, record, top, args.format_prefix),
            "params": top.candidate.params, "test_scores": b.scores,
            "search_seconds": round(run["search_seconds"], 1), "test_seconds": round(time.perf_counter() - start, 1),
            "search_cpu_seconds": round(run["search_cpu_seconds"], 1),
            "test_cpu_seconds": round(time.process_time() - cpu, 1),
            **pick_rule_fields(store, record, lm, limit=args.test_limit, seed=args.seed)}


def start_fields(first, verdict, fixed: bool) -> dict:
    """The start prompt (the search's trial 0) on dev and test, its dev - test gap, and the pick
    against it on test (a paired test; a fixed arm's pick is its start: difference 0)."""
    d = verdict.difference
    return {"start_dev": first.dev_score, "start_test": first.score.estimate,
            "start_gap": None if first.dev_score is None else first.dev_score - first.score.estimate,
            "vs_start": 0.0 if fixed else d.estimate, "vs_start_p": 1.0 if fixed else verdict.p_value}


def bench_task(args, lm, name: str, workdir: Path) -> tuple[list[dict], dict, list[str]]:
    """Every arm on one task: (rows, the new arm's format spread, the new arm's degraded notes)."""
    bench = TASKS[name]
    task_path = task_file(bench, args.data, workdir)
    task = ps.load_task(task_path)
    budget, n_dev = budget_calls(args, task)
    log.warning("%s (%s): %d dev examples, budget %d model calls per search arm", name, bench.kind, n_dev, budget)
    order = ["hand"] + [a for a in args.arms if a != "hand"]  # the hand prompt is every arm's baseline
    spaces = {arm: arm_space(arm, SPACES / bench.space, workdir, name, budget_trials=args.budget_trials,
                             seed=args.seed, new_space=args.new_space, new_propose=args.new_propose_map)
              for arm in order if arm not in DSPY_ARMS}
    if "new" in spaces and spaces["new"].degraded:
        log.warning("  the new arm runs DEGRADED: %s left out (details at the end)",
                    ", ".join(n.split(" left out")[0] for n in spaces["new"].degraded))
    rows, runs, hand_json = [], {}, workdir / f"{name}-hand.json"
    for arm in order:
        if arm in DSPY_ARMS:
            row = dspy_arm(args, lm, bench, task, arm, runs["hand"], workdir, budget, n_dev)
            rows += [row] if row else []
            continue
        runs[arm] = run_arm(args, lm, bench, task_path, spaces[arm].path, arm,
                            workdir / f"{name}-{arm.replace('+', '_')}.db", budget)
        if arm == "hand":
            ps.export_prompt(runs[arm]["store"], runs[arm]["record"], "json", hand_json, overwrite=True)
        if arm in args.arms:
            rows.append(held_out(args, lm, bench, runs[arm], arm, hand_json))
            log.warning("  %s", one_line(rows[-1]))
    spread: dict[str, Any] = {"spread": None, "why": "the new arm did not run"}
    if "new" in runs:
        r, start = runs["new"], time.perf_counter()
        spread = format_spread(r["store"], r["record"], ps.best(r["store"], r["record"]), lm,
                               limit=args.spread_limit, most=args.spread_variants, seed=args.seed,
                               prefix=args.format_prefix)
        spread["seconds"] = round(time.perf_counter() - start, 1)
    for r in runs.values():
        r["store"].close()
    rows.sort(key=lambda r: ARMS.index(r["arm"]))
    return rows, spread, spaces["new"].degraded if "new" in spaces else []


def dspy_arm(args, lm, bench, task: ps.TaskSpec, arm: str, hand: dict, workdir: Path, budget: int,
             n_dev: int) -> dict | None:
    """A DSPy optimizer's row, or None (its failure logged and kept in args.failures: one arm that
    breaks does not lose the others' results)."""
    from quality_dspy_arms import DspyTask, dspy_row, run_dspy_arm

    try:
        dt = DspyTask(task, read_space(SPACES / bench.space)["instructions"][0], load_split(task, "train"),
                      load_split(task, "dev", args.dev_limit), bench.max_new_tokens)
        pick = run_dspy_arm(arm, dt, args.serve_url, budget=budget, seed=args.seed, candidates=args.mipro_candidates,
                            prompt_tokens=args.dspy_max_tokens, lean=args.mipro_lean)
        row = dspy_row(args, lm, bench, task, pick, hand, workdir)
    except Exception as e:
        log.exception("%s/%s failed", bench.name, arm)
        args.failures.append(f"{bench.name}/{arm}: {type(e).__name__}: {e}")
        return None
    log.warning("  %s", one_line(row))
    for note in row["notes"]:
        log.warning("    %s", note)
    return row


def one_line(r: dict) -> str:
    return (f"{r['arm']:<12} calls {r['calls']:>6} trials {r['trials']:>3}  dev {r['dev']:.3f}  test {r['test']:.3f} "
            f"[{r['test_low']:.3f}, {r['test_high']:.3f}]  dev-test {r['gap']:+.3f}; start: dev "
            f"{num(r['start_dev'])} test {num(r['start_test'])}  {r['search_seconds']:.0f}+{r['test_seconds']:.0f}s")


def table(rows: list[dict]) -> str:
    lines = ["| task | arm | model calls | trials | dev | test [95% CI] | dev − test | start: dev / test / dev − test "
             "| pick vs start, p | vs hand [95% CI], p | winner: instruction source; format |",
             "|---|---|---:|---:|---:|---|---:|---|---|---|---|"]
    for r in rows:
        cap = " (trial cap)" if r["capped"] else ""
        lines.append(f"| {r['task']} | {r['arm']} | {r['calls']:,}{cap} | {r['trials']} | {r['dev']:.3f} | "
                     f"{r['test']:.3f} [{r['test_low']:.3f}, {r['test_high']:.3f}] | {r['gap']:+.3f} | "
                     f"{num(r['start_dev'])} / {num(r['start_test'])} / {num(r['start_gap'], '+')} | "
                     f"{num(r['vs_start'], '+')}, p={num(r['vs_start_p'])} | {r['vs_hand']:+.3f} "
                     f"[{r['vs_hand_low']:+.3f}, {r['vs_hand_high']:+.3f}], p={r['vs_hand_p']:.3g} | "
                     f"{r['source']}: {short(r['instruction'])}; {r['format']} |")
    return "\n".join(lines)


def short(text: str, width: int = 48) -> str:
    """An instruction as a table cell: quoted, one line, at most `width` characters, no pipes."""
    text = " ".join(text.split()).replace("|", "/")
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def spread_line(task: str, s: dict) -> str:
    if s.get("spread") is None:
        return f"format spread {task}: n/a ({s.get('why')})"
    head = f"format spread {task}: {s['spread']:.3f} over {len(s['scores'])} formats of the new arm's winner " \
           f"on {s['examples']} test examples"
    if s["spread"] == 0:
        return f"{head} (all scored {s['best']['test']:.3f})"
    return (f"{head} (best {s['best']['test']:.3f}: {shown(s['best']['format'])}; "
            f"worst {s['worst']['test']:.3f}: {shown(s['worst']['format'])})")


def timing(rows: list[dict], spreads: dict, task_seconds: dict) -> str:
    """Where the time went: per arm (search + test verdict wall seconds, summed over tasks; CPU
    seconds of this process, which on a shared machine say more than the wall clock), the spreads,
    the tasks."""
    arms: dict[str, list[float]] = {}  # arm: [search s, test s, cpu s]
    for r in rows:
        a = arms.setdefault(r["arm"], [0.0, 0.0, 0.0])
        a[0], a[1] = a[0] + r["search_seconds"], a[1] + r["test_seconds"]
        a[2] += r["search_cpu_seconds"] + r["test_cpu_seconds"]
    per_arm = ", ".join(f"{arm} {s:.0f}+{t:.0f} (cpu {c:.0f})" for arm, (s, t, c) in arms.items())
    spread = sum(s.get("seconds", 0.0) for s in spreads.values())
    per_task = ", ".join(f"{t} {s:.0f}" for t, s in task_seconds.items())
    return (f"seconds: {sum(task_seconds.values()):.0f} in all; per arm search+test {per_arm}; "
            f"format spread {spread:.0f}; per task {per_task}")


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    import optuna
    import torch
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(args.threads)
    lm = ps.load_lm(args.model, device=args.device, dtype=args.dtype)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ps-quality-"))
    workdir.mkdir(parents=True, exist_ok=True)
    args.workdir_path = workdir
    rows, spreads, degraded, task_seconds = [], {}, {}, {}
    args.failures = []
    with serve_for_dspy(args):
        for name in args.tasks:
            start = time.perf_counter()
            task_rows, spreads[name], notes = bench_task(args, lm, name, workdir)
            rows += task_rows
            task_seconds[name] = round(time.perf_counter() - start, 1)
            if notes:
                degraded[name] = notes
    report(args, lm, rows, spreads, degraded, task_seconds, workdir)
    return 0


@contextlib.contextmanager
def serve_for_dspy(args):
    """`promptsearch serve` for the DSPy arms while the tasks run (nothing when none is asked for)."""
    if not set(args.arms) & set(DSPY_ARMS):
        yield
        return
    from quality_dspy import Served

    with Served(args.model, args.workdir_path / "serve.log", threads=args.threads, device=args.device,
                dtype=args.dtype, max_tokens=args.dspy_max_tokens) as server:
        args.serve_url = server.url
        yield


def report(args, lm, rows, spreads, degraded, task_seconds, workdir: Path) -> None:
    notes = sorted({n for ns in degraded.values() for n in ns})
    if notes and "new" in args.arms:
        print("\nNOTE: the new arm (TPE + formats + screened proposal + reflection) ran DEGRADED — this "
              "promptsearch lacks:")
        for n in notes:
            print(f"  - {n}")
    for failure in args.failures:
        print(f"FAILED: {failure}")
    print("\n" + table(rows) + "\n")
    print("winner's curse per arm, over tasks (dev − test: positive when the pick did worse on test):\n"
          + gap_table(rows) + "\n")
    if pick_rule_summary(rows):
        print(pick_rule_summary(rows) + "\n")
    for task, s in spreads.items():
        print(spread_line(task, s))
    verdict = target_verdict(rows)
    print("\n" + verdict_line(verdict, bool(notes)))
    print(f"\nmodel {lm.name}; budget {args.budget_calls or f'{args.budget_trials} trial-equivalents'} of model "
          f"calls per search arm, dev-limit {args.dev_limit}, test-limit {args.test_limit}, seed {args.seed}, "
          f"{args.threads} threads; 95% percentile bootstrap CIs; files in {workdir}")
    print(count_check(rows))
    print(timing(rows, spreads, task_seconds))
    if args.json:
        out = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "model": lm.name, "degraded": degraded, "rows": rows, "format_spread": spreads, "target": verdict,
               "gaps": gap_summary(rows), "failures": args.failures,
               "task_seconds": task_seconds}
        Path(args.json).write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
