"""Held-out verdicts: paired statistics (stats.py), the best-vs-baseline comparison (heldout.py)
and the demo-label probe (probe.py)."""
from promptsearch.verdict.heldout import Arm, Verdict, load_baseline_file, run_verdict
from promptsearch.verdict.probe import Probe, run_probe
from promptsearch.verdict.store import load_probe, load_verdict, store_probe, store_verdict

__all__ = ["Arm", "Probe", "Verdict", "load_baseline_file", "load_probe", "load_verdict", "run_probe", "run_verdict",
           "store_probe", "store_verdict"]
