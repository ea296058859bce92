"""Format search and the accuracy / prompt-length trade-off, end to end on the real embedded model
and real SQLite: a seeded search over search_spaces/formats.yaml whose trials use several formats
(each exported in the format it was scored with), and a multi-objective search (score,
prompt_tokens) with its Pareto front in show, report, export --pick and the Python API."""
import json
from pathlib import Path

import jinja2
import optuna
import pytest

import promptsearch as ps
from promptsearch.cli.main import main
from promptsearch.export import render_export
from promptsearch.render.format import FORMAT_KEYS, PromptFormat
from promptsearch.search.objectives import prefix_text
from promptsearch.search.rebuild import rebuild_prompt
from promptsearch.search.results import completed_trials, leaderboard
from promptsearch.storage import Store

ROOT = Path(__file__).resolve().parents[2]
TASK = ROOT / "examples" / "review_sentiment.yaml"
SPACES = ROOT / "search_spaces"


@pytest.fixture(scope="module")
def db(tmp_path_factory, smollm):
    """'fmt': 6 seeded trials over formats.yaml; 'mo': 5 trials of default.yaml, two objectives."""
    url = f"sqlite:///{tmp_path_factory.mktemp('tradeoffs')}/t.db"
    assert main(["optimize", str(TASK), "--space", str(SPACES / "formats.yaml"), "--trials", "6", "--dev-limit",
                 "3", "--seed", "1", "--name", "fmt", "--db", url]) == 0
    assert main(["optimize", str(TASK), "--space", str(SPACES / "default.yaml"), "--trials", "5", "--dev-limit",
                 "3", "--objectives", "score,prompt_tokens", "--name", "mo", "--db", url]) == 0
    return url


def _formats(store, record):
    return {r.prompt_hash: PromptFormat.from_params(r.params) for r in store.candidates.of_search(record.id)}


def test_format_search_samples_several_formats_and_exports_each_as_scored(db, capsys):
    store = Store(db, create=False)
    record = store.get_search("fmt")
    formats = _formats(store, record)
    assert len(set(formats.values())) > 1  # the trials used more than one format
    assert all(set(FORMAT_KEYS) <= set(r.params) for r in store.candidates.of_search(record.id))
    checked = 0
    for e in leaderboard(store, record, k=None):
        row, fmt = e.candidate, formats[e.candidate.prompt_hash]
        template = rebuild_prompt(record, row)  # raises unless it hashes as stored
        assert template.with_placeholders() == row.prompt
        text = render_export(store, record, e, "jinja")
        assert jinja2.Template(text).render(review="It broke.") == template.fill({"review": "It broke."})
        messages = json.loads(render_export(store, record, e, "chat"))
        label = fmt.field_label("review", ("review",), "label")
        assert messages[-1]["content"].startswith(f"{label}{fmt.separator}{{review}}")  # then a trigger, if any
        dspy_state = render_export(store, record, e, "dspy")
        assert f'"prefix": {json.dumps(label + (fmt.separator.rstrip() or ":"), ensure_ascii=False)}' in dspy_state
        assert render_export(store, record, e, "text") == row.prompt
        checked += fmt != PromptFormat()
    assert checked >= 1  # at least one non-default format went through every exporter

    assert main(["show", "fmt", "--db", db, "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "Score by format choice" in out and "separator" in out and "casing" in out
    rows = ps.score_by_format(Store(db, create=False), "fmt")
    done = len(completed_trials(store, record))
    for dim in ("field names", "separator", "casing", "spacing", "answer prefix"):
        assert sum(r.trials for r in rows if r.dimension == dim) == done
    assert max(r.best for r in rows) == max(e.score for e in leaderboard(store, record, k=None))
    assert ps.score_by_format(Store(db, create=False), "mo") == []  # no formats block: no rows


def test_multi_objective_search_stores_tokens_and_shows_the_front(db, capsys, smollm, tmp_path):
    store = Store(db, create=False)
    record = store.get_search("mo")
    assert record.settings["objectives"] == "score,prompt_tokens"
    study = store.load_study(record)
    assert study.directions == [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
    rows = {r.prompt_hash: r for r in store.candidates.of_search(record.id)}
    trials = completed_trials(store, record)
    for t in trials:  # the second value is the prompt's tokens without its input, by the model's tokenizer
        assert t.values[1] == smollm.count_tokens(prefix_text(rows[t.user_attrs["prompt_hash"]].prompt, ["review"]))

    front = ps.pareto_front(store, "mo")
    points = [(t.values[0], t.values[1]) for t in trials]
    expected = {p for p in points if not any(q[0] >= p[0] and q[1] <= p[1] and q != p for q in points)}
    assert {(p.score, p.tokens) for p in front} == expected
    assert [p.tokens for p in front] == sorted(p.tokens for p in front)

    assert main(["show", "mo", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "Pareto front" in out and "Leaderboard" in out
    assert main(["list", "--db", db]) == 0
    report = tmp_path / "mo.html"
    assert main(["report", "mo", "--db", db, "-o", str(report)]) == 0
    html = report.read_text()
    assert "Score against prompt length" in html and "prompt tokens" in html and html.count("<svg") >= 2

    best_score = max(t.values[0] for t in trials)
    out_file = tmp_path / "short.json"
    assert main(["export", "mo", "--pick", "shortest-within", "1", "--format", "json", "-o", str(out_file),
                 "--db", db]) == 0
    picked = json.loads(out_file.read_text())
    assert picked["prompt_hash"] == min(front, key=lambda p: (p.tokens, -p.score)).entry.candidate.prompt_hash
    assert main(["export", "mo", "--pick", "shortest-within", "0", "--format", "json", "-o",
                 str(tmp_path / "b.json"), "--db", db]) == 0
    assert json.loads((tmp_path / "b.json").read_text())["score"] == best_score
    assert ps.export_prompt(store, "mo", "json", pick="best") == ps.export_prompt(store, "mo", "json")

    assert main(["eval", "mo", "--split", "dev", "--limit", "3", "--db", db]) == 0  # best = highest score
    assert main(["resume", "mo", "--trials", "1", "--db", db]) == 0
    assert all(len(t.values) == 2 for t in completed_trials(store, store.get_search("mo")))


def test_shortest_within_on_a_single_objective_search_counts_tokens_with_the_model(db, smollm):
    store = Store(db, create=False)
    record = store.get_search("fmt")
    entries = leaderboard(store, record, k=None)
    tokens = {e.candidate.prompt_hash: smollm.count_tokens(prefix_text(e.candidate.prompt, ["review"]))
              for e in entries}
    top = max(e.score for e in entries)
    near = [e for e in entries if e.score >= top - 0.34]
    want = min(near, key=lambda e: (tokens[e.candidate.prompt_hash], -e.score, e.trial))
    got = json.loads(ps.export_prompt(store, "fmt", "json", pick=("shortest-within", 0.34), lm=smollm))
    assert got["prompt_hash"] == want.candidate.prompt_hash
    front = ps.pareto_front(store, "fmt", lm=smollm)
    assert front and all(p.tokens == tokens[p.entry.candidate.prompt_hash] for p in front)


def test_pruner_with_two_objectives_is_one_line_and_writes_nothing(tmp_path, capsys):
    db_path = tmp_path / "none.db"
    code = main(["optimize", str(TASK), "--space", str(SPACES / "default.yaml"), "--objectives",
                 "score,prompt_tokens", "--pruner", "wilcoxon", "--db", f"sqlite:///{db_path}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and not db_path.exists()
    assert "--pruner wilcoxon: cannot prune a multi-objective search" in err


def test_parallel_candidates_tell_every_objective(tmp_path):
    """--parallel-candidates scores K trials in one call (search/pipeline.py); each is told both values."""
    url = f"sqlite:///{tmp_path}/k.db"
    assert main(["optimize", str(TASK), "--space", str(SPACES / "default.yaml"), "--trials", "2", "--dev-limit", "2",
                 "--objectives", "score,prompt_tokens", "--parallel-candidates", "2", "--name", "k", "--db", url]) == 0
    store = Store(url, create=False)
    trials = completed_trials(store, store.get_search("k"))
    assert len(trials) == 2 and all(len(t.values) == 2 and t.values[1] > 0 for t in trials)
