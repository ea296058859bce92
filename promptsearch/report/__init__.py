"""`promptsearch report`: one self-contained HTML page about a search (data.py reads, html.py writes)."""
from promptsearch.report.html import render_report, write_report

__all__ = ["render_report", "write_report"]
