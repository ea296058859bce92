"""Racing end to end on the real embedded model and real SQLite: the CLI and the API race, every
complete trial is scored on all of dev, every stopped one lost to its leader on the examples it got,
`show`, the report and the dry run say so, resume keeps racing, and the budget counts what it cost."""
from pathlib import Path

import promptsearch as ps
from promptsearch.cli.main import main
from promptsearch.search.devscores import dev_scores
from promptsearch.search.racing import Race
from promptsearch.storage import Store

ROOT = Path(__file__).resolve().parents[2]
TASK = str(ROOT / "examples" / "review_sentiment.yaml")
SPACE = str(ROOT / "search_spaces" / "default.yaml")



def _check_race(store: Store, name: str, n_dev: int, start: int) -> dict:
    """What must hold whatever the model scores: complete trials have all of dev, stopped ones a
    rung short of it and a partial score below their leader's on the same examples."""
    study = store.load_study(store.get_search(name))
    by_number = {t.number: t for t in study.trials}
    rungs = Race(start=start).rungs(n_dev)
    for t in study.trials:
        if t.state.name == "COMPLETE":
            assert t.user_attrs["dev_examples"] == n_dev and len(dev_scores(t)) == n_dev
        elif t.state.name == "PRUNED":
            n, leader = t.user_attrs["partial_examples"], by_number[t.user_attrs["race_leader"]]
            assert n in rungs[:-1]
            prefix = dev_scores(leader)[:n]
            assert t.user_attrs["partial_score"] < sum(prefix) / n  # behind the leader there
    race = ps.race_summary(store, name)
    assert race is not None and race["dev_examples"] == n_dev
    assert race["complete"] == sum(t.state.name == "COMPLETE" for t in study.trials)
    assert race["examples_scored"] == race["complete"] * n_dev + sum(
        t.user_attrs["partial_examples"] for t in study.trials if t.state.name == "PRUNED")
    return race


def test_optimize_race_show_resume_report_on_the_cli(tmp_path, capsys, real_model):
    db = f"sqlite:///{tmp_path}/race.db"
    assert main(["optimize", TASK, "--space", SPACE, "--trials", "3", "--dev-limit", "16", "--race",
                 "--race-start", "4", "--name", "r", "--db", db, "--dry-run"]) == 0
    assert "racing: a candidate that cannot beat the leader stops after as few as 4 dev examples" in \
        " ".join(capsys.readouterr().out.split())
    assert main(["optimize", TASK, "--space", SPACE, "--trials", "5", "--dev-limit", "16", "--race",
                 "--race-start", "4", "--name", "r", "--db", db]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "race: " in out and "scored on all 16 dev examples" in out
    assert main(["resume", "r", "--trials", "2", "--db", db]) == 0  # the stored settings race again
    out += " ".join(capsys.readouterr().out.split())
    store = Store(db, create=False)
    race = _check_race(store, "r", 16, 4)
    for t in store.load_study(store.get_search("r")).trials:  # the progress lines say where each stopped
        if t.state.name == "PRUNED":
            n, partial = t.user_attrs["partial_examples"], t.user_attrs["partial_score"]
            assert f"trial {t.number}: pruned after {n} dev examples, partial score {partial:.4f}" in out
    assert race["complete"] + race["stopped"] == 7
    assert main(["show", "r", "--db", db]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"race: {race['complete']} candidate" in out and "race_start" in out
    if race["stopped"]:
        assert "Stopped by the race" in out
    report = tmp_path / "r.html"
    assert main(["report", "r", "--db", db, "-o", str(report)]) == 0
    assert "This search races for the lead" in report.read_text()


def test_the_api_races_in_batches_under_a_budget(tmp_path, smollm):
    db = f"sqlite:///{tmp_path}/api.db"
    space = tmp_path / "space.yaml"
    space.write_text("name: s\ninstructions: ['Classify the review as {labels}.', 'Is it {labels}?', "
                     "'Reply with one word.', 'Pick a label.']\ndemos:\n  counts: [0, 2]\n")
    store, rec = ps.optimize(TASK, space, trials=6, name="a", db=db, lm=smollm, dev_limit=16, race=True,
                             race_start=4, parallel_candidates=2, budget="calls=400")
    race = _check_race(store, "a", 16, 4)
    spent = sum(t.user_attrs.get("lm_calls", 0) for t in store.load_study(rec).trials)
    assert spent == 2 * race["examples_scored"] <= 400  # two labels per example; the budget held
    assert ps.race_summary(store, "a") == race
    plain, _ = ps.optimize(TASK, space, trials=1, name="p", db=db, lm=smollm, dev_limit=16)
    assert ps.race_summary(plain, "p") is None
