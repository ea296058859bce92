"""The service layer: what every command does, under both the CLI and the Python API.

Each function checks every input it can (files, settings, names, data, model, context) before
its first write, orchestrates the lower layers, loads models in one place (models.load_model)
and writes files atomically (files.py). It never prints: callers pass Hooks to see progress.
The CLI parses arguments and prints what these functions return; promptsearch.api re-exports them.
"""
from promptsearch.service.dryrun import plan
from promptsearch.service.examples import compare_trials, trial_examples
from promptsearch.service.hooks import QUIET, Hooks, Interrupted, TrialSink
from promptsearch.service.models import check_model, load_model, model_for
from promptsearch.service.outputs import (
                                          Overview,
                                          Standing,
                                          backup,
                                          best_entry,
                                          evaluate,
                                          evidence,
                                          export,
                                          format_scores,
                                          open_server,
                                          overview,
                                          pareto_front,
                                          probe,
                                          proposals,
                                          race_summary,
                                          report,
                                          searches,
                                          selection,
                                          standing,
                                          upgrade,
)
from promptsearch.service.searches import (
                                          NewSearch,
                                          RunResult,
                                          as_space,
                                          as_task,
                                          check_new_search,
                                          create,
                                          open_store,
                                          optimize,
                                          preflight,
                                          record_of,
                                          resume,
                                          run,
                                          with_label_scoring,
)
from promptsearch.service.worker import WorkerResult, work

__all__ = [
                                          "QUIET",
                                          "Hooks",
                                          "Interrupted",
                                          "NewSearch",
                                          "Overview",
                                          "RunResult",
                                          "TrialSink",
                                          "WorkerResult",
                                          "as_space",
                                          "as_task",
                                          "backup",
                                          "check_model",
                                          "check_new_search",
                                          "create",
                                          "evaluate",
                                          "evidence",
                                          "export",
                                          "format_scores",
                                          "load_model",
                                          "model_for",
                                          "open_server",
                                          "open_store",
                                          "optimize",
                                          "overview",
                                          "pareto_front",
                                          "plan",
                                          "preflight",
                                          "probe",
                                          "proposals",
                                          "record_of",
                                          "report",
                                          "resume",
                                          "run",
                                          "searches",
                                          "with_label_scoring",
                                          "work",
]
__all__ += ["Standing", "best_entry", "compare_trials", "race_summary", "selection", "standing", "trial_examples",
            "upgrade"]
