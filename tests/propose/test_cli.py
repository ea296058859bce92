"""Proposal through the CLI, on the real embedded model: a `propose` block in the space file."""
from pathlib import Path

from optuna.trial import TrialState

from promptsearch.cli.main import main
from promptsearch.search.results import proposal_lineage
from promptsearch.storage import Store

ROOT = Path(__file__).resolve().parents[2]


def test_optimize_with_propose_block_then_resume_and_show(tmp_path, capsys, smollm):
    space = tmp_path / "space.yaml"
    space.write_text("name: p\ninstructions: ['Classify the {inputs}: {labels}.', '']\n"
                     "demos:\n  counts: [0, 2]\n"
                     "propose:\n  methods: [induction, resampling]\n  every: 2\n  rounds: 2\n"
                     "  n: 2\n  draws: 1\n  examples: 3\n  max_tokens: 16\n")
    db = f"sqlite:///{tmp_path}/p.db"
    assert main(["optimize", str(ROOT / "examples" / "review_sentiment.yaml"), "--space", str(space),
                 "--trials", "3", "--name", "p", "--dev-limit", "6", "--db", db]) == 0
    assert main(["resume", "p", "--trials", "1", "--db", db]) == 0
    store = Store(db, create=False)
    record = store.get_search("p")
    rows = proposal_lineage(store, record)
    assert {r["method"] for r in rows} == {"induction", "resampling"}
    study = store.load_study(record)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 4
    capsys.readouterr()
    assert main(["show", "p", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "Proposed instructions" in out and "induction" in out


def test_shipped_propose_space_parses():
    from promptsearch.config import load_space
    assert load_space(ROOT / "search_spaces" / "propose.yaml").propose["every"] == 6
