"""The report page: one self-contained HTML file (inline CSS, inline SVG, a few lines of inline JS).

Nothing is fetched: no fonts, scripts or images from anywhere, so the file opens offline and can
be mailed or attached to a ticket. Every piece of user text (prompts, demos, names) is escaped.
"""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from promptsearch.evaluate.labels import describe as describe_label_scoring
from promptsearch.outfile import check_output, database_files, write_output
from promptsearch.report import svg
from promptsearch.report.data import ReportData, collect
from promptsearch.report.failures import failures_section
from promptsearch.report.sections import format_section, pareto_section
from promptsearch.report.svg import esc
from promptsearch.search.params import NO_TRIGGER
from promptsearch.storage.store import SearchRecord, Store, mask_url

CSS = """
body{font:14px/1.45 system-ui,sans-serif;color:#1f2328;max-width:980px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:14px;margin:16px 0 4px}.muted{color:#656d76}table{border-collapse:collapse;margin:6px 0}
td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.warn{background:#fff8c5;border:1px solid #d4a72c;padding:8px 12px}
.verdict{background:#eef6ee;border:1px solid #4ac26b;padding:8px 12px}.note{color:#656d76;font-style:italic}
pre.prompt{background:#f6f8fa;border:1px solid #d0d7de;padding:8px;white-space:pre-wrap;word-break:break-word;
max-height:14em;overflow:auto;margin:4px 0}pre.prompt.open{max-height:none}
button.toggle{font-size:12px;margin:0 0 12px;cursor:pointer}
svg.chart{max-width:100%;height:auto;display:block;margin:4px 0}
"""

SCRIPT = """
(function () {
  document.querySelectorAll('button.toggle').forEach(function (button) {
    button.addEventListener('click', function () {
      var pre = document.getElementById(button.getAttribute('data-target'));
      var open = pre.classList.toggle('open');
      button.textContent = open ? 'collapse prompt' : 'expand prompt';
    });
  });
  var ready = document.createElement('div');
  ready.id = 'ps-report-ready';
  ready.hidden = true;
  ready.setAttribute('data-charts', String(document.querySelectorAll('svg.chart').length));
  ready.setAttribute('data-prompts', String(document.querySelectorAll('pre.prompt').length));
  document.body.appendChild(ready);
})();
"""


def write_report(store: Store, record: SearchRecord, path: Path, top: int = 10, overwrite: bool = False) -> Path:
    """Write the report to `path` by the rules of promptsearch/outfile.py."""
    held = database_files(store.sqlite_file)
    target = check_output(path, overwrite=overwrite, flag="write_report", force="overwrite=True", protect=held)
    write_output(target, render_report(collect(store, record, top), mask_url(store.url)), "write_report", held)
    return target


def render_report(data: ReportData, db: str) -> str:
    r = data.record
    sections = [_summary(data, db), _trial_section(data), _importance_section(data),
                _dimension_section(data), format_section(data.formats),
                pareto_section(data.pareto_trials, data.front, r.task["metric"]), _proposal_section(data),
                _verdict_section(data), _probe_section(data),
                failures_section(data.failures), _top_section(data)]
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>promptsearch report: {esc(r.name)}</title><style>{CSS}</style></head><body>"
            f"<h1>Search <code>{esc(r.name)}</code></h1>"
            f"<div class=\"muted\">promptsearch report, made {made}</div>"
            + "".join(sections) + f"<script>{SCRIPT}</script></body></html>\n")


def _summary(data: ReportData, db: str) -> str:
    r, task = data.record, data.record.task
    complete = [t for t in data.trials if t.state == "complete"]
    best = max((t.value for t in complete), default=None)
    rows = [("task", f"{task['name']} — inputs {', '.join(task['inputs'])}, output {task['output']}"),
            ("metric", task["metric"] + (f" (labels: {', '.join(task['labels'])})" if task.get("labels") else "")),
            ("model", r.model), ("search space", r.space.get("name", "")),
            ("trials", ", ".join(f"{k} {v}" for k, v in data.counts.items() if v) or "none"),
            ("best dev score", f"{best:.4f}" if best is not None else "—"),
            ("dev examples", str(r.settings.get("dev_limit") or "all")),
            ("sampler / pruner", f"{r.settings.get('sampler')} / {r.settings.get('pruner')}"),
            *([("label scoring", describe_label_scoring(r.settings.get("label_scoring", "sum")))]
              if task.get("labels") else []),
            ("created", r.created.strftime("%Y-%m-%d %H:%M:%S")), ("database", db)]
    return "<h2>Summary</h2>" + _kv_table(rows)


def _trial_section(data: ReportData) -> str:
    metric = data.record.task["metric"]
    if not data.trials:
        return "<h2>Score by trial</h2><p class=\"note\">no finished trials yet</p>"
    points = [svg.Point(t.number, t.value, t.state, f"trial {t.number}: {t.value:.4f}" + _partial(t))
              for t in data.trials]
    return ("<h2>Score by trial</h2>"
            f"<p class=\"muted\">dev {esc(metric)} of every trial; the line is the best score so far.</p>"
            + _race_note(data.race) + svg.trial_chart(points, data.best_so_far, metric))


def _partial(t) -> str:
    if t.state != "pruned":
        return ""
    return f" (pruned, partial: {t.examples} examples)" if t.examples else " (pruned, partial)"


def _race_note(race: dict | None) -> str:
    """The race (search/racing.py): who got all of dev, who stopped where, what it cost."""
    if not race or not race["dev_examples"]:
        return ""
    at = ", ".join(f"{k} after {n}" for n, k in race["stopped_at"].items()) or "none"
    share = race["examples_scored"] / max(1, race["examples_without_racing"])
    return (f"<p class=\"muted\">This search races for the lead: {esc(race['complete'])} candidates were scored "
            f"on all {esc(race['dev_examples'])} dev examples and {esc(race['stopped'])} stopped early, once "
            f"they could no longer beat the leader (trials stopped after n examples: {esc(at)}); "
            f"{esc(race['examples_scored'])} dev examples scored, {share:.0%} of scoring every candidate on "
            "all of dev. Hollow dots are partial scores.</p>")


def _importance_section(data: ReportData) -> str:
    head = "<h2>Parameter importances</h2>"
    if not data.importances:
        return head + f"<p class=\"note\">{esc(data.importance_note or 'none')}</p>"
    bars = [svg.Bar(k, k, v, note=f"{v:.3f}") for k, v in data.importances.items()]
    return (head + "<p class=\"muted\">Optuna fANOVA: the share of the score's variance each parameter "
            "explains (sums to 1).</p>" + svg.bar_chart(bars, "parameter importances", value_name="importance"))


def _dimension_section(data: ReportData) -> str:
    out = ["<h2>Score by choice</h2><p class=\"muted\">Bars: mean dev score of the distinct candidates "
           "with that choice; the orange tick is the best one; n = candidates.</p>"]
    for title, groups in data.dimensions:
        bars = [svg.Bar(g.value, g.value, g.mean, g.best, f"best {g.best:.3f} · n={g.candidates}")
                for g in groups]
        out.append(f"<h3>By {esc(title)}</h3>" + svg.bar_chart(bars, f"score by {title}"))
    if not data.dimensions:
        out.append("<p class=\"note\">no parameter took more than one value in the completed trials</p>")
    if data.fixed:
        out.append("<p class=\"muted\">Fixed in this search: "
                   + "; ".join(f"{esc(k)} = {esc(v)}" for k, v in data.fixed.items()) + "</p>")
    return "".join(out)


def _proposal_section(data: ReportData) -> str:
    """Proposed instructions, round by round, each with the parents it was made from."""
    if not data.proposals:
        return ""
    rows = []
    for p in data.proposals:
        reason = p.reason or "-"
        status = f"accepted as #{p.pool_index}" if p.accepted else (
            reason if reason.startswith("screened out") else f"rejected: {reason}")
        if p.screen_score is not None and p.accepted:
            status += f" (screen score {p.screen_score:.2f})"
        parents = "; ".join(f"#{q.get('index')} ({_score(q.get('score'))})" for q in p.parents) or "—"
        if p.failures:
            parents += f"; shown failures on dev examples {', '.join(p.failures)}"
        best = f"{p.best:.4f} (n={p.candidates})" if p.best is not None else "not tried yet"
        cells = [str(p.round), p.method, p.text or "(empty)", status, parents, best]
        rows.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    return ("<h2>Proposals and lineage</h2><p class=\"muted\">Instructions written by the proposer: each "
            "row names the pool instructions (#index, their dev score then) it was made from (a reflection "
            "also the dev examples it was shown failing), its screen score when proposals were screened "
            "before a trial, and the best dev score a candidate using it has reached since.</p>"
            "<table><tr><th>round</th>"
            "<th>method</th><th>instruction</th><th>status</th><th>parents</th><th>best dev score</th></tr>"
            + "".join(rows) + "</table>")


def _score(value) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "—"


def _verdict_section(data: ReportData) -> str:
    v = data.verdict
    e = data.evidence
    dev = f"<p class=\"{'muted' if e['significant'] else 'warn'}\">{esc(e['reading'])}</p>" if e else ""
    if v is None:
        return ("<h2>Held-out verdict</h2>" + dev + "<p class=\"note\">none yet: run <code>promptsearch eval "
                f"{esc(data.record.name)} --split test</code></p>")
    rows = []
    for label, arm in (("best", v["best"]), ("baseline", v["baseline"])):
        s = arm["score"]
        dev = f"{arm['dev_score']:.4f}" if arm["dev_score"] is not None else "—"
        rows.append((label, arm["source"], dev, f"{s['estimate']:.4f}", f"{s['low']:.4f} – {s['high']:.4f}"))
    d = v["difference"]
    cells = lambda row: "".join(f"<td{' class=num' if i > 1 else ''}>{esc(c)}</td>"  # noqa: E731
                                for i, c in enumerate(row))
    table = ("<table><tr><th>prompt</th><th>source</th><th>dev</th><th>" + esc(v["split"])
             + "</th><th>95% CI</th></tr>" + "".join(f"<tr>{cells(row)}</tr>" for row in rows)
             + f"<tr><td>difference</td><td>best − baseline</td><td></td><td class=num>{d['estimate']:+.4f}</td>"
             f"<td class=num>{d['low']:+.4f} – {d['high']:+.4f}</td></tr></table>")
    chart = svg.interval_chart([("best", v["best"]["score"]["estimate"], v["best"]["score"]["low"],
                                 v["best"]["score"]["high"], svg.BLUE),
                                ("baseline", v["baseline"]["score"]["estimate"], v["baseline"]["score"]["low"],
                                 v["baseline"]["score"]["high"], svg.GREY),
                                ("difference", d["estimate"], d["low"], d["high"], svg.ORANGE)],
                               "held-out scores with 95% intervals")
    warning = f"<p class=\"warn\">{esc(v['warning'])}</p>" if v.get("warning") else ""
    return ("<h2>Held-out verdict</h2>"
            f"<p class=\"muted\">{esc(v['examples'])} {esc(v['split'])} examples never seen by the search; "
            f"model {esc(v['model'])}; {esc(v['test'])} p = {v['p_value']:.4g}; bootstrap "
            f"{esc(v['resamples'])} resamples; made {esc(v.get('created', ''))}.</p>"
            f"<p class=\"verdict\">{esc(v['conclusion'])}</p>{warning}{table}{chart}{dev}")


def _probe_section(data: ReportData) -> str:
    """The latest demo-label probe: each variant's score and its difference from the original."""
    p = data.probe
    if p is None:
        return ""
    rows = []
    for v in (p["original"], *p["variants"]):
        s, d = v["score"], v.get("difference")
        label = {"original": "original", "none": "no demos"}.get(v["name"], f"{v['name']} labels")
        delta = f"{d['estimate']:+.4f}" if d else ""
        ci = f"{d['low']:+.4f} – {d['high']:+.4f}" if d else ""
        rows.append(f"<tr><td>{esc(label)}</td><td class=num>{esc(v['kept'])}/{esc(p['demos'])}</td>"
                    f"<td class=num>{s['estimate']:.4f}</td><td class=num>{s['low']:.4f} – {s['high']:.4f}</td>"
                    f"<td class=num>{delta}</td><td class=num>{ci}</td></tr>")
    chart = svg.interval_chart([(v["name"], v["difference"]["estimate"], v["difference"]["low"],
                                 v["difference"]["high"], svg.ORANGE) for v in p["variants"]],
                               "variant − original with 95% intervals")
    return ("<h2>Demo-label probe</h2>"
            f"<p class=\"muted\">the best prompt (trial {esc(p['trial'])}, {esc(p['demos'])} demos) on "
            f"{esc(p['examples'])} {esc(p['split'])} examples with its demos' labels shuffled, random, or no "
            f"demos (Min et al. 2022); model {esc(p['model'])}; seed {esc(p['seed'])}; made "
            f"{esc(p.get('created', ''))}.</p><p class=\"verdict\">{esc(p['reading'])}</p>"
            "<table><tr><th>demos</th><th>labels kept</th><th>" + esc(p["split"]) + "</th><th>95% CI</th>"
            "<th>− original</th><th>95% CI</th></tr>" + "".join(rows) + f"</table>{chart}")


def _top_section(data: ReportData) -> str:
    out = ["<h2>Top candidates</h2>"]
    if not data.top:
        return out[0] + "<p class=\"note\">no completed trials yet</p>"
    for rank, e in enumerate(data.top, start=1):
        c = e.candidate
        trigger = c.cot_trigger if c.cot_trigger not in (None, NO_TRIGGER) else "none"
        rows = [("dev score", f"{e.score:.4f} (trial {e.trial})"), ("instruction", c.instruction or "(none)"),
                ("demonstrations", str(len(c.demos))), ("CoT trigger", trigger), ("layout", c.template),
                ("prompt hash", c.prompt_hash[:16])]
        pid = f"prompt-{rank}"
        out.append(f"<h3>#{rank}</h3>" + _kv_table(rows)
                   + f"<pre class=\"prompt\" id=\"{pid}\">{esc(c.prompt)}</pre>"
                   + f"<button class=\"toggle\" data-target=\"{pid}\">expand prompt</button>"
                   + _feedback(data.feedback.get(e.trial, [])))
    return "".join(out)


def _feedback(rows: list[dict]) -> str:
    """What the metric said about the lowest-scoring dev examples (Python metrics, the judge)."""
    if not rows:
        return ""
    body = "".join(f"<tr><td>{esc(r.get('example', ''))}</td><td>{r.get('score', 0.0):.4f}</td>"
                   f"<td>{esc(r.get('prediction', ''))}</td><td>{esc(r.get('feedback', ''))}</td></tr>" for r in rows)
    return ("<p>Why it lost points (lowest-scoring dev examples):</p><table><tr><th>example</th><th>score</th>"
            f"<th>prediction</th><th>feedback</th></tr>{body}</table>")


def _kv_table(rows: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows) + "</table>"
