"""Report sections of the searched format and of the score/prompt-length trade-off."""
from __future__ import annotations

from typing import Any

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
