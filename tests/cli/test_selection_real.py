"""The selection split end to end on the real embedded model and real SQLite: the held-out dev
examples are never scored during the trials, the top-k are scored on them once at the end, the
pick (`best`, `show`, `export`) follows the selection score, and resume keeps the split."""
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

import promptsearch as ps
from promptsearch.cli.main import main
from promptsearch.search.results import completed_trials
from promptsearch.storage import Store

ROOT = Path(__file__).resolve().parents[2]
TASK = str(ROOT / "examples" / "review_sentiment.yaml")
SPACE = str(ROOT / "search_spaces" / "default.yaml")



def _scored_ids(db: str) -> dict[str, set[str]]:
    """prompt hash -> the example ids stored in the evaluation cache for it."""
    out: dict[str, set[str]] = {}
    with sa.create_engine(db).connect() as c:
        for h, example in c.execute(sa.text("SELECT prompt_hash, example_id FROM ps_evaluations")):
            out.setdefault(h, set()).add(example)
    return out


def test_held_out_examples_pick_the_winner(tmp_path, capsys, real_model):
    db = f"sqlite:///{tmp_path}/sel.db"
    assert main(["optimize", TASK, "--space", SPACE, "--trials", "3", "--dev-limit", "12", "--select-fraction",
                 "0.5", "--select-top", "2", "--name", "s", "--db", db]) == 0
    store = Store(db, create=False)
    record = store.get_search("s")
    sel = ps.selection(store, "s")
    held = set(sel["example_ids"])
    assert sel["examples"] == len(held) == 6 and sel["dev_examples"] == 6 and sel["top"] == 2
    trials = completed_trials(store, record)
    assert len(trials) == 3 and all(len(t.user_attrs["dev_scores"]) == 6 for t in trials)
    scored = _scored_ids(db)
    rescored = {s["trial"] for s in sel["scores"]}
    top2 = sorted(trials, key=lambda t: (-t.values[0], t.number))[:2]
    assert rescored == {t.number for t in top2}
    for t in trials:  # a candidate outside the top 2 never saw a held-out example
        ids = scored[t.user_attrs["prompt_hash"]]
        assert len(ids - held) == 6 and (ids & held == held if t.number in rescored else not ids & held)
    pick = max(sel["scores"], key=lambda s: (s["pooled"], s["dev"], -s["trial"]))
    for s in sel["scores"]:  # dev's 6 per-example scores and the 6 held-out ones, pooled
        assert s["pooled"] == pytest.approx((6 * s["dev"] + 6 * s["selection"]) / 12)
    assert sel["pick"] == pick["trial"] == ps.best(store, "s").trial
    assert sel["usage"]["lm_calls"] > 0  # the re-scoring called the model, and that is counted
    out = capsys.readouterr().out
    assert f"Best prompt (trial {pick['trial']}," in out

    assert main(["show", "s", "--db", db]) == 0
    out = capsys.readouterr().out
    line = re.search(r"^selection: 6 examples held out of dev; pick = trial (\d+) \(selection ([\d.]+), dev "
                     r"([\d.]+), pooled [\d.]+\); top-2 re-scored: ", out, re.M)
    assert line and int(line.group(1)) == pick["trial"] and float(line.group(2)) == round(pick["selection"], 2)
    assert main(["export", "s", "--db", db]) == 0
    exported = capsys.readouterr().out
    picked_row = store.candidates.get(record.id, next(t for t in trials if t.number == pick["trial"])
                                      .user_attrs["prompt_hash"])
    assert picked_row.prompt.strip() in exported or exported.strip() in picked_row.prompt

    outside = next((t for t in trials if t.number not in rescored), trials[0])
    shown = ps.trial_examples(store, "s", outside.number)  # the dev the trials were scored on, not the held out
    assert len(shown.outcomes) == 6 and not {o.example_id for o in shown.outcomes} & held
    assert [o.score for o in shown.outcomes] == [float(c) for c in outside.user_attrs["dev_scores"]]
    assert main(["compare", "s", "0", str(outside.number), "--db", db]) == 0
    capsys.readouterr()

    assert main(["resume", "s", "--trials", "1", "--db", db]) == 0  # the split is stored with the search
    again = ps.selection(store, "s")
    assert again["example_ids"] == sel["example_ids"]
    assert all(len(t.user_attrs["dev_scores"]) == 6 for t in completed_trials(store, record))


def test_python_api_takes_select_fraction(tmp_path, smollm):
    db = f"sqlite:///{tmp_path}/api.db"
    ps.optimize(TASK, SPACE, trials=2, name="a", db=db, lm=smollm, dev_limit=4, select_fraction=0.5,
                select_top=1, label_scoring="sum")
    store = Store(db, create=False)
    sel = ps.selection(store, "a")
    assert sel["examples"] == 2 and len(sel["scores"]) == 1
    assert ps.best(store, "a").trial == sel["pick"] == sel["scores"][0]["trial"]


@pytest.mark.parametrize("flags, message", [
    (["--select-fraction", "1.5"], "--select-fraction must be a number greater than 0 and less than 1"),
    (["--select-fraction", "0.5", "--dev-limit", "1"], "leaves no"),
    (["--select-fraction", "0.5", "--select-top", "0"], "--select-top must be at least 1, got 0"),
])
def test_bad_selection_flags_are_one_line(tmp_path, capsys, flags, message):
    db = tmp_path / "bad.db"
    assert main(["optimize", TASK, "--space", SPACE, *flags, "--db", f"sqlite:///{db}"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err and not db.exists()

