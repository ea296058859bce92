"""Everything the CLI shows: progress bars and tables (rich). Library code never prints.

Task names, instructions, prompts, paths and model names come from users' files, the data, a
model or the database, so they are never read as rich markup: both consoles have markup and
emoji codes off (a string prints as it is), and styled text is built as rich.text.Text.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from promptsearch import service
from promptsearch.search.results import Entry
from promptsearch.search.runner import RunSummary, TrialEvent
from promptsearch.service import Hooks, RunResult
from promptsearch.service.hooks import plural
from promptsearch.storage.store import SearchRecord
from promptsearch.strategies import describe as describe_strategy

console = Console(markup=False, emoji=False)
err_console = Console(stderr=True, markup=False, emoji=False)


def styled(label: str, style: str, rest: str) -> Text:
    """`label` in `style`, then `rest` as it is: "error: ...", "warning: ..."."""
    return Text.assemble((label, style), " ", rest)


def _short(text: str | None, width: int = 60) -> str:
    if not text:
        return "-"
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= width else one_line[: width - 1] + "…"


class TrialProgress:
    """A progress bar over trials showing the best score so far and the time left."""

    def __init__(self, total: int, already: int = 0):
        self.progress = Progress(
            TextColumn("[bold]trials"), BarColumn(), MofNCompleteColumn(),
            TextColumn("best [bold green]{task.fields[best]}"), TextColumn("last {task.fields[last]}"),
            TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
            console=console, transient=False)
        self.task_id = self.progress.add_task("search", total=total, best="-", last="-")
        self.already = already

    def __enter__(self) -> TrialProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def update(self, event: TrialEvent) -> None:
        last = f"{event.score:.4f}" + (f" (pruned at {event.examples})" if event.state == "pruned" else "")
        best = f"{event.best:.4f}" if event.best is not None else "-"
        self.progress.update(self.task_id, completed=event.completed - self.already, best=best, last=last)

    def show(self, completed: int, best: float | None) -> None:
        """Absolute counts read from the database (workers in other processes)."""
        fields: dict[str, Any] = {"best": f"{best:.4f}"} if best is not None else {}
        self.progress.update(self.task_id, completed=completed - self.already, **fields)


class TrialLines:
    """Where stdout is not a terminal (a log file, a pipe): one plain line per finished trial, so
    a log shows the search move (a progress bar would print only once, at the end)."""

    def __init__(self, total: int, already: int = 0):
        self.total, self.already = total, already
        self.last_shown: int | None = None

    def __enter__(self) -> TrialLines:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def update(self, event: TrialEvent) -> None:
        best = f"{event.best:.4f}" if event.best is not None else "-"
        state = (f"pruned after {plural(event.examples, 'dev example')}, partial score" if event.state == "pruned"
                 else "score")
        _line(f"trial {event.number}: {state} {event.score:.4f}, best {best}; {event.completed - self.already} of "
              f"{plural(self.total, 'trial')} in {event.seconds:.1f}s")

    def show(self, completed: int, best: float | None) -> None:
        """Counts read from the database (workers in other processes): a line when they change."""
        if completed != self.last_shown:
            self.last_shown = completed
            shown = f", best {best:.4f}" if best is not None else ""
            _line(f"{completed - self.already} of {plural(self.total, 'trial')} finished{shown}")


def _line(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)
    console.file.flush()  # a log file shows it now, not when the buffer fills


def hooks() -> Hooks:
    """How the CLI shows the service's progress: spinners, plain lines and a progress bar (on a
    terminal; plain lines per trial otherwise)."""
    return Hooks(status=lambda text: console.status(Text(text)),  # a str would be parsed as markup
                 note=lambda text: console.print(text, highlight=False, soft_wrap=True),
                 warn=lambda text: err_console.print(f"warning: {text}", highlight=False, soft_wrap=True),
                 trials=lambda total, done: (TrialProgress if console.is_terminal else TrialLines)(total, done))


def pool_result(result: RunResult) -> int:
    """`optimize --workers N` ends: each worker's error, the totals, the leaderboard."""
    store, record = result.store, result.record
    failed = [e for e in result.workers if e.code != 0]
    for message in dict.fromkeys(e.last_error or f"exited with code {e.code}" for e in failed):
        err_console.print(f"worker: {message}", highlight=False, markup=False)
    view = service.standing(store, record)
    finished = view.finished
    console.print(f"{finished} of {plural(view.target, 'trial')} finished by "
                  f"{plural(len(result.workers), 'worker')}")
    if view.entries:
        console.print(leaderboard_table(view.entries))
        console.print(best_prompt_panel(service.best_entry(store, record)))
    if failed:
        err_console.print(f"search {record.name} is saved with {finished} finished trials: fix the workers' error, "
                          f"then continue with `promptsearch worker {record.name}`", highlight=False)
    return failed[0].code if failed else 0


def leaderboard_table(entries: list[Entry], title: str = "Leaderboard") -> Table:
    table = Table(title=title, title_justify="left")
    columns: tuple[tuple[str, dict[str, Any]], ...] = (
        ("#", {"justify": "right"}), ("trial", {"justify": "right"}), ("score", {"justify": "right"}),
        ("instruction", {}), ("demos", {"justify": "right"}), ("CoT trigger", {}), ("layout", {}))
    for col, kw in columns:
        table.add_column(col, **kw)
    table.add_column("strategy")
    unparsed = any(e.unparsed is not None for e in entries)  # label scoring first-token or generate
    if unparsed:
        table.add_column("unparsed", justify="right")
    for rank, e in enumerate(entries, start=1):
        c = e.candidate
        p = c.params or {}
        strategy = describe_strategy(p)
        demos = str(p.get("n_demos", len(c.demos))) + (" nearest" if p.get("demo_selection") == "nearest" else "")
        cells = [str(rank), str(e.trial), f"{e.score:.4f}", _short(c.instruction),
                 demos, _short(c.cot_trigger, 30), c.template, strategy]
        table.add_row(*cells, *([str(e.unparsed) if e.unparsed is not None else ""] if unparsed else []))
    return table


def print_evidence(evidence) -> None:
    """The dev evidence line (verdict/dev.py), if there is one: bold when the winner is not
    distinguishable from the first trial on dev."""
    if evidence is not None:
        console.print(evidence.reading(), style=None if evidence.significant else "bold", markup=False,
                      highlight=False)


def print_selection(selection: dict | None) -> None:
    """The selection split's line: its size, the pick and every re-score (search/pick.py)."""
    if not selection or not selection.get("scores"):
        return
    scores = selection["scores"]
    pick = next((s for s in scores if s["trial"] == selection.get("pick")), scores[0])
    rescored = ", ".join(f"trial {s['trial']} {s['selection']:.2f} (dev {s['dev']:.2f}{_pooled(s)})" for s in scores)
    console.print(f"selection: {selection['examples']} examples held out of dev; pick = trial {pick['trial']} "
                  f"(selection {pick['selection']:.2f}, dev {pick['dev']:.2f}{_pooled(pick)}); top-{len(scores)} "
                  f"re-scored: {rescored}", markup=False, highlight=False, soft_wrap=True)


def _pooled(score: dict) -> str:
    """The pooled score the pick is made on (searches from before it was stored have none)."""
    return f", pooled {score['pooled']:.2f}" if "pooled" in score else ""


def print_race(race: dict | None) -> None:
    """The race's line (search/racing.py): who got all of dev, who stopped where, what it saved."""
    if not race or not race["dev_examples"]:
        return
    at = ", ".join(f"{k} after {n} examples" for n, k in race["stopped_at"].items()) or "none"
    share = race["examples_scored"] / race["examples_without_racing"] if race["examples_without_racing"] else 1.0
    console.print(f"race: {plural(race['complete'], 'candidate')} scored on all {race['dev_examples']} dev "
                  f"examples; {race['stopped']} stopped early ({at}); {race['examples_scored']:,} dev examples "
                  f"scored, {share:.0%} of scoring every candidate on all of dev", markup=False, highlight=False,
                  soft_wrap=True)


def best_prompt_panel(entry: Entry) -> Panel:
    return Panel(entry.candidate.prompt, title=f"Best prompt (trial {entry.trial}, score {entry.score:.4f})",
                 title_align="left", expand=False)


def run_summary_line(summary: RunSummary) -> str:
    rate = summary.examples_computed / summary.model_seconds if summary.model_seconds > 0 else 0.0
    pruned = f" (+{summary.pruned} pruned)" if summary.pruned else ""
    return (f"{plural(summary.completed, 'trial')}{pruned} in {summary.wall_seconds:.1f}s; "
            f"{plural(summary.examples_computed, 'example')} scored by the model at {rate:.1f} examples/s")


def settings_table(record: SearchRecord, counts: dict[str, int], db: str,
                   extra: Sequence[tuple[str, str]] = ()) -> Table:
    table = Table(show_header=False, title=f"Search '{record.name}'", title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    task, space = record.task, record.space
    rows = [("database", db), ("created", record.created.strftime("%Y-%m-%d %H:%M:%S")),
            ("task", f"{task['name']} ({task.get('source', '')})"),
            ("metric", task["metric"] + (f", labels: {', '.join(task['labels'])}" if task.get("labels") else "")),
            ("space", f"{space['name']} ({space.get('source', '')})"), ("model", record.model)]
    hidden = {"select_top"} if record.settings.get("select_fraction") is None else set()  # means nothing then
    hidden |= set() if record.settings.get("race") else {"race"}  # an older search has no race setting
    rows += [(k, str(v)) for k, v in record.settings.items() if v is not None and k not in hidden]
    rows.append(("trials", ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "none"))
    rows += list(extra)
    for k, v in rows:
        table.add_row(k, v)
    return table


def searches_table(rows: list[tuple[SearchRecord, int, float | None]]) -> Table:
    table = Table(title="Searches", title_justify="left")
    for col in ("name", "task", "model", "completed", "best", "created"):
        table.add_column(col, justify="right" if col in ("completed", "best") else "left")
    for rec, n, top in rows:
        table.add_row(rec.name, rec.task["name"], rec.model, str(n),
                      f"{top:.4f}" if top is not None else "-", rec.created.strftime("%Y-%m-%d %H:%M"))
    return table


def pruned_table(store, record: SearchRecord, trials) -> Table:
    """Pruned trials with the partial score they had when the pruner (or the race) stopped them."""
    raced = record.settings.get("race")
    title = "Stopped by the race (partial dev scores)" if raced else "Pruned trials (partial dev scores)"
    table = Table(title=title, title_justify="left")
    for col in ("trial", "partial score", "examples", "instruction", "demos"):
        table.add_column(col, justify="right" if col != "instruction" else "left")
    for t in trials:
        c = store.candidates.get(record.id, t.user_attrs.get("prompt_hash", ""))
        table.add_row(str(t.number), f"{t.user_attrs.get('partial_score', float('nan')):.4f}",
                      str(t.user_attrs.get("partial_examples", "-")), _short(c.instruction if c else None),
                      str(len(c.demos)) if c else "-")
    return table


def feedback_table(trial: int, rows: list[dict]) -> Table:
    """What the metric said about the best trial's lowest-scoring dev examples (printed literally)."""
    from rich.text import Text

    table = Table(title=f"Why trial {trial} lost points (lowest-scoring dev examples)", title_justify="left")
    for col in ("example", "score", "prediction", "feedback"):
        table.add_column(col, justify="right" if col == "score" else "left")
    for r in rows:
        table.add_row(Text(str(r.get("example", ""))[:12]), f"{r.get('score', 0.0):.4f}",
                      Text(_short(r.get("prediction"), 40)), Text(_short(r.get("feedback"), 60)))
    return table


def proposals_table(rows: list[dict]) -> Table:
    """LLM proposals: pool index, how they were made, from which parents (and, for reflection, which
    failed dev examples), their screen score, and how they scored."""
    screened = any(r.get("screen_score") is not None for r in rows)
    table = Table(title="Proposed instructions", title_justify="left")
    cols = ("pool #", "round", "method", "instruction", "parents", *(("screen",) if screened else ()), "trials", "best")
    for col in cols:
        table.add_column(col, justify="right" if col in ("pool #", "round", "screen", "best") else "left")
    for r in rows:
        if r["accepted"]:
            text = Text(_short(r["text"], 50))
        else:
            verb = "" if str(r["reason"]).startswith("screened out") else "rejected "
            text = Text(f"{verb}({r['reason']}): {_short(r['text'], 30)}", style="dim")
        parents = ",".join(str(p) for p in r["parents"]) or "-"
        if r.get("failures"):
            parents += f" (failures: {', '.join(str(f)[:8] for f in r['failures'])})"
        screen = (f"{r['screen_score']:.2f}" if r.get("screen_score") is not None else "-",) if screened else ()
        table.add_row("-" if r["index"] is None else str(r["index"]), str(r["round"]), r["method"], text,
                      Text(parents), *screen, ",".join(map(str, r["trials"])) or "-",
                      f"{r['best']:.4f}" if r["best"] is not None else "-")
    return table


def plan_table(plan) -> Table:
    """`optimize --dry-run`: the planned cost (search/dryrun.Plan), nothing run, nothing written."""
    table = Table(title=f"Dry run: {plan.name} ({plural(plan.trials, 'trial')} on "
                        f"{plural(plan.dev_examples, 'dev example')}, "
                        f"model {plan.model}, pruner {plan.pruner}); nothing was written", title_justify="left")
    for col in ("", "model calls", "prompt tokens", "generated tokens", "tokens"):
        table.add_column(col, justify="left" if not col else "right")

    def row(label: str, c) -> None:
        table.add_row(label, f"{c.calls:,.0f}", f"{c.prompt_tokens:,.0f}", f"{c.completion_tokens:,.0f}",
                      f"{c.tokens:,.0f}")
    row("per trial (mean)", plan.per_trial)
    if len(plan.by_strategy) > 1:
        for name, c in sorted(plan.by_strategy.items()):
            row(f"  {name}", c)
    row(plural(plan.trials, "trial"), plan.trial_cost)
    if plan.bootstrap.calls:
        row("bootstrap (once)", plan.bootstrap)
    if plan.proposal_rounds:
        row(f"{plan.proposal_rounds} proposal rounds ({plan.proposer})", plan.proposals)
    if plan.selection.calls:
        row("selection re-scoring (top-k)", plan.selection)
    row("total", plan.total)
    return table


def probe_table(p: dict) -> Table:
    """A demo-label probe as stored (verdict/probe.Probe.to_dict()): each variant's score and its
    difference from the original with 95% intervals."""
    table = Table(title=f"Demo-label probe: {p['search']}, best prompt (trial {p['trial']}, "
                        f"{plural(p['demos'], 'demo')}) on {p['split']} ({plural(p['examples'], 'example')}, "
                        f"model {p['model']}, {p['metric']})",
                  title_justify="left")
    for col in ("demos", "labels kept", p["split"], "95% CI", "− original", "95% CI ", "p"):
        table.add_column(col, justify="left" if col == "demos" else "right")
    o = p["original"]
    table.add_row("original", f"{o['kept']}/{p['demos']}", f"{o['score']['estimate']:.4f}",
                  f"{o['score']['low']:.4f} – {o['score']['high']:.4f}", "", "", "")
    for v in p["variants"]:
        d, s = v["difference"], v["score"]
        kept = f"{v['kept']}/{p['demos']}" if v["name"] != "none" else "-"
        table.add_row(f"{v['name']} labels" if v["name"] != "none" else "no demos", kept, f"{s['estimate']:.4f}",
                      f"{s['low']:.4f} – {s['high']:.4f}", f"{d['estimate']:+.4f}",
                      f"{d['low']:+.4f} – {d['high']:+.4f}", f"{v['p_value']:.3g}")
    return table


def budget_rows(budget, spent) -> list[tuple[str, str]]:
    """`show`: the stored budget and what the trials spent (search/budget.py)."""
    used = (f"{spent.calls:,.0f} call{'' if spent.calls == 1 else 's'}, "
            f"{spent.tokens:,.0f} token{'' if spent.tokens == 1 else 's'}, {spent.seconds:,.1f} s"
            + (f", {spent.dollars:.4f} USD" if spent.dollars else "")
            + (f" ({spent.unpriced_calls:,} calls without a known price)" if spent.unpriced_calls else ""))
    rows = [("spent", used)]
    if budget:
        rows.insert(0, ("budget", budget.describe()))
    return rows
def format_table(rows: list) -> Table:
    """Score by format choice (search/format_scores.py): best and mean dev score, trials."""
    table = Table(title="Score by format choice", title_justify="left")
    for col in ("dimension", "choice", "best", "mean", "trials"):
        table.add_column(col, justify="left" if col in ("dimension", "choice") else "right")
    last = None
    for r in rows:
        table.add_row(r.dimension if r.dimension != last else "", Text(r.choice), f"{r.best:.4f}", f"{r.mean:.4f}",
                      str(r.trials))
        last = r.dimension
    return table


def front_table(points: list) -> Table:
    """The Pareto front of dev score against prompt tokens (search/pareto.py), shortest first."""
    table = Table(title="Pareto front: dev score vs prompt tokens (shortest first)", title_justify="left")
    for col in ("trial", "score", "tokens", "instruction", "demos"):
        table.add_column(col, justify="left" if col == "instruction" else "right")
    for p in points:
        c = p.entry.candidate
        table.add_row(str(p.entry.trial), f"{p.score:.4f}", str(p.tokens), Text(_short(c.instruction, 50)),
                      str(len(c.demos)))
    return table
