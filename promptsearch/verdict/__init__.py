"""Held-out verdicts: paired statistics (stats.py) and the best-vs-baseline comparison (heldout.py)."""
from promptsearch.verdict.heldout import Arm, Verdict, load_baseline_file, run_verdict
from promptsearch.verdict.store import load_verdict, store_verdict

__all__ = ["Arm", "Verdict", "load_baseline_file", "load_verdict", "run_verdict", "store_verdict"]
