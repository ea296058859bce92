"""The report's "Where the best prompt fails": the best trial's lowest-scoring dev examples, with
their predictions and the metric's feedback, and the confusion matrix of a label task
(search/examples.py reads them back from the evaluation cache)."""
from __future__ import annotations

import logging
from typing import Any

from promptsearch.errors import UserError
from promptsearch.report.svg import esc
from promptsearch.search.examples import TrialExamples, select, trial_examples
from promptsearch.storage.store import SearchRecord, Store

log = logging.getLogger(__name__)
WORST = 10  # examples shown


def best_examples(store: Store, record: SearchRecord) -> TrialExamples | None:
    """The best trial's dev examples; None when there is none or they cannot be read back."""
    try:
        return trial_examples(store, record)
    except (UserError, OSError) as e:  # no complete trial, data moved, per-input demos: no section
        log.info("no per-example results for the report: %s", e)
        return None


def failures_section(found: TrialExamples | None) -> str:
    if found is None:
        return ""
    worst = select(found.outcomes, wrong=True, limit=WORST, worst_first=True)
    lost = sum(o.lost for o in found.outcomes)
    head = (f"<h2>Where the best prompt fails</h2><p class=\"muted\">Trial {found.trial} (dev score "
            f"{found.score:.4f}) lost points on {lost} of {len(found.outcomes)} dev examples"
            + (f"; the {len(worst)} lowest-scoring are shown" if worst else "") + ".</p>")
    inputs = list(found.outcomes[0].inputs) if found.outcomes else []
    rows = "".join(
        f"<tr><td class=num>{o.position}</td>" + "".join(f"<td>{esc(o.inputs[k])}</td>" for k in inputs)
        + f"<td>{esc(' | '.join(o.expected))}</td><td>{esc(o.prediction)}</td><td class=num>{o.score:.4g}</td>"
        f"<td>{esc(o.feedback or '')}</td></tr>" for o in worst)
    table = ("<table><tr><th>#</th>" + "".join(f"<th>{esc(k)}</th>" for k in inputs)
             + "<th>expected</th><th>prediction</th><th>score</th><th>feedback</th></tr>" + rows + "</table>"
             if worst else "<p class=\"note\">no dev example lost a point</p>")
    return head + table + _confusion(found.confusion())


def _confusion(table: dict[str, dict[str, Any]] | None) -> str:
    if not table:
        return ""
    columns = list(next(iter(table.values())))
    body = "".join(f"<tr><th>{esc(label)}</th>" + "".join(f"<td class=num>{row[c]}</td>" for c in columns) + "</tr>"
                   for label, row in table.items())
    return ("<h3>Confusion matrix (rows: expected, columns: predicted)</h3><table><tr><th></th>"
            + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr>" + body + "</table>")
