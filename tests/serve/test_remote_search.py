"""A real search through a remote model: `promptsearch serve` runs the embedded model over HTTP on
127.0.0.1, and `optimize --model openai/smollm2 --api-base ...` searches the bundled generation task
against it, and a label task (scored by echo log-probs over /v1/completions) that must match the
same search in-process. Tokens are accounted per trial; resume and eval find the server again from
the stored settings; the evaluations are cached under the remote model's name."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from promptsearch.cli.main import main
from promptsearch.search.results import completed_trials
from promptsearch.storage import Store
from promptsearch.storage.models import EvaluationRow

ROOT = Path(__file__).resolve().parents[2]
TASK = ROOT / "examples" / "city_extraction.yaml"
SPACE = ROOT / "search_spaces" / "extraction.yaml"
USAGE = ("lm_calls", "lm_prompt_tokens", "lm_completion_tokens", "lm_cost_usd", "lm_unpriced_calls", "lm_seconds")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served():
    """`promptsearch serve` in a subprocess; its /v1 URL once /health answers (bounded wait)."""
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "promptsearch", "serve", "--model", "smollm2",
                             "--port", str(port), "--model-id", "smollm2"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 240  # loading the model on a busy 2-core machine
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"serve exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.time() < deadline, "serve did not answer within 240 s"
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_search_with_a_remote_model(served, tmp_path, capsys):
    db = f"sqlite:///{tmp_path}/remote.db"
    assert main(["optimize", str(TASK), "--space", str(SPACE), "--dev-limit", "3", "--trials", "2",
                 "--max-new-tokens", "8", "--name", "remote", "--model", "openai/smollm2",
                 "--api-base", served, "--db", db]) == 0
    assert "Leaderboard" in capsys.readouterr().out
    store = Store(db, create=False)
    record = store.get_search("remote")
    assert record.model == "openai/smollm2" and record.settings["api_base"] == served
    trials = completed_trials(store, record)
    assert len(trials) == 2
    for t in trials:  # token accounting, per trial
        assert set(USAGE) <= set(t.user_attrs), t.user_attrs
    fresh = [t for t in trials if t.user_attrs["lm_calls"] > 0]
    assert fresh, "no trial called the model"
    for t in fresh:
        assert t.user_attrs["lm_calls"] == 3  # one chat completion per dev example
        assert t.user_attrs["lm_prompt_tokens"] > 20 * 3 and t.user_attrs["lm_completion_tokens"] >= 3
        assert t.user_attrs["lm_unpriced_calls"] == 3 and t.user_attrs["lm_cost_usd"] == 0.0
    # cached like a local model's, under the remote model's name
    models = store.db.read(lambda s: set(s.scalars(sa.select(EvaluationRow.model))))
    assert models == {f"openai/smollm2@{served}"}

    # resume finds the server from the stored settings
    assert main(["resume", "remote", "--trials", "1", "--db", db]) == 0
    assert len(completed_trials(store, record)) == 3

    # and so does the held-out verdict
    assert main(["eval", "remote", "--limit", "3", "--db", db]) == 0
    assert "Held-out verdict" in capsys.readouterr().out


def test_label_search_through_serve_matches_in_process(served, smollm, tmp_path):
    """The same seeded label search, scored through `serve` (echo log-probs over HTTP) and in
    this process: the same candidates, the same scores (the same decisions)."""
    import promptsearch as ps

    space = tmp_path / "space.yaml"  # direct strategy, plain layout: only log-likelihoods differ in path
    space.write_text("name: direct\ninstructions: ['Classify the {inputs}. Answer with one of: {labels}.', "
                     "'Is this review positive or negative?', '']\n"
                     "demos:\n  counts: [0, 2, 4]\n  selection: [random, stratified]\n  draws: 2\n"
                     "templates: [plain]\nseed: 0\n")
    task = ROOT / "examples" / "review_sentiment.yaml"
    db = f"sqlite:///{tmp_path}/labels.db"
    assert main(["optimize", str(task), "--space", str(space), "--dev-limit", "12", "--trials", "4",
                 "--name", "remote", "--model", "openai/smollm2", "--api-base", served, "--concurrency", "4",
                 "--db", db]) == 0
    store, local = ps.optimize(task, space, trials=4, name="local", db=db, lm=smollm, dev_limit=12)
    remote = store.get_search("remote")
    assert remote.settings["concurrency"] == 4
    far = {t.number: (t.params, t.value) for t in completed_trials(store, remote)}
    near = {t.number: (t.params, t.value) for t in completed_trials(store, local)}
    assert far.keys() == near.keys() and len(far) == 4
    for n in far:
        assert far[n][0] == near[n][0]  # the same candidates: the sampler saw the same scores
        assert far[n][1] == pytest.approx(near[n][1]), n  # a mean of 0/1 scores: equal up to rounding
    assert len({v for _, v in far.values()}) > 1  # the candidates really differ
    # resume keeps the stored concurrency and the server
    assert main(["resume", "remote", "--trials", "1", "--db", db]) == 0
    assert len(completed_trials(store, remote)) == 5


def test_serve_refuses_a_remote_model(capsys):
    assert main(["serve", "--model", "openai/gpt-4o-mini"]) == 2
    assert "serve needs a local model" in capsys.readouterr().err


def test_budget_on_a_remote_model(served, tmp_path, capsys):
    """Tokens as the server reports them are what a remote search's budget is spent in; a dollar
    budget is accepted for a remote model (this server's has no price: its calls count as unpriced)."""
    from promptsearch.search.budget import Budget, spent, stored_budget

    db = f"sqlite:///{tmp_path}/budget.db"
    assert main(["optimize", str(TASK), "--space", str(SPACE), "--dev-limit", "3", "--trials", "8",
                 "--max-new-tokens", "8", "--name", "rb", "--model", "openai/smollm2", "--api-base", served,
                 "--budget", "tokens=1500", "--budget", "dollars=1", "--db", db]) == 0
    assert "budget reached: " in capsys.readouterr().out
    store = Store(db, create=False)
    record = store.get_search("rb")
    study = store.load_study(record)
    assert stored_budget(study) == Budget(tokens=1500, dollars=1.0)
    used = spent(study.trials)
    assert 0 < used.tokens <= 1500 and len(study.trials) < 8 and used.unpriced_calls == used.calls > 0
    assert main(["show", "rb", "--db", db]) == 0
    shown = " ".join(capsys.readouterr().out.replace("│", " ").split())  # the table may wrap the line
    assert "budget tokens=1,500, dollars=1" in shown and "calls without a known" in shown
