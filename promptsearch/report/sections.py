"""Report sections of the searched format and of the score/prompt-length trade-off."""
from __future__ import annotations

from typing import Any

from promptsearch.report import svg
from promptsearch.report.svg import esc


def format_section(rows: list[Any]) -> str:
    """Score by format choice (search/format_scores.py); nothing for a search without formats."""
    if not rows:
        return ""
    body = "".join(f"<tr><td>{esc(r.dimension)}</td><td><code>{esc(r.choice)}</code></td>"
                   f"<td class=num>{r.best:.4f}</td><td class=num>{r.mean:.4f}</td><td class=num>{r.trials}</td></tr>"
                   for r in rows)
    return ("<h2>Score by format choice</h2><p class=\"muted\">For each format dimension the search sampled: "
            "the best and mean dev score of the completed trials that used the choice, and how many did.</p>"
            "<table><tr><th>dimension</th><th>choice</th><th>best</th><th>mean</th><th>trials</th></tr>"
            + body + "</table>")


def pareto_section(trials: list[tuple[int, float, int]], front: list[Any], metric: str) -> str:
    """A multi-objective search's trade-off: every trial's score against its prompt tokens, the
    front highlighted, and the front as a table; nothing for a single-objective search."""
    if not trials:
        return ""
    points = [svg.Point(tokens, score, "complete", f"trial {n}: {score:.4f}, {tokens} tokens")
              for n, score, tokens in trials]
    line = [(float(p.tokens), p.score) for p in front]
    rows = "".join(f"<tr><td class=num>{p.entry.trial}</td><td class=num>{p.score:.4f}</td>"
                   f"<td class=num>{p.tokens}</td><td>{esc(p.entry.candidate.instruction or '(none)')}</td>"
                   f"<td class=num>{len(p.entry.candidate.demos)}</td></tr>" for p in front)
    return ("<h2>Score against prompt length</h2><p class=\"muted\">Dev score of every trial against the "
            "tokens of its prompt without the input (instruction, demonstrations, layout). Orange: the Pareto "
            "front, where no shorter prompt scores as well. <code>promptsearch export NAME --pick "
            "shortest-within 0.01</code> takes the shortest prompt within 0.01 of the best.</p>"
            + svg.pareto_chart(points, line, metric)
            + "<table><tr><th>trial</th><th>score</th><th>tokens</th><th>instruction</th><th>demos</th></tr>"
            + rows + "</table>")
