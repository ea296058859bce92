"""`promptsearch report`: one self-contained HTML file that headless Chromium renders without errors."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from promptsearch.cli.main import main
from promptsearch.config import load_space, load_task
from promptsearch.report.data import collect
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.storage import Store

ROOT = Path(__file__).resolve().parents[2]
TASK = ROOT / "examples" / "review_sentiment.yaml"
SPACE = """name: small
instructions: ["Classify the {inputs}. Answer with one of: {labels}.", "Is the {inputs} {labels}?", ""]
demos: {counts: [0, 1], selection: [random]}
cot_triggers: [null, "Answer carefully."]
templates: [plain, chat]
start: none
"""
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium; installed with apt-get when missing (skips when that is impossible)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and apt-get cannot run here (install the 'chromium' package)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            pytest.skip(f"`{' '.join(cmd)}` timed out; install the 'chromium' package by hand")
        if done.returncode != 0:
            pytest.skip(f"`{' '.join(cmd)}` failed ({done.stderr.strip()[-200:]}); install 'chromium' by hand")
    found = shutil.which("chromium")
    if not found:
        pytest.skip("apt-get installed chromium but it is not on PATH")
    return found


@pytest.fixture(scope="module")
def report_db(tmp_path_factory, smollm):
    """A real search (5 trials on 4 dev examples: scores differ) with a verdict on 4 test examples."""
    from promptsearch.api import evaluate_heldout

    tmp = tmp_path_factory.mktemp("report")
    (tmp / "space.yaml").write_text(SPACE)
    store = Store(f"sqlite:///{tmp}/r.db")
    record = new_search(store, "rep", load_task(TASK), load_space(tmp / "space.yaml"), "smollm2",
                           SearchSettings(dev_limit=4, seed=2, sampler="random"))
    run_trials(store, record, smollm, 5)
    evaluate_heldout(store, record, limit=4, lm=smollm)
    return store, record, tmp


def _render(chromium: str, page: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'chrome-profile'}",
                           "--enable-logging=stderr", "--v=0", *extra, page.as_uri()],
                          capture_output=True, text=True, timeout=120)


def test_report_renders_in_headless_chromium(report_db, chromium, tmp_path):
    store, _record, _ = report_db
    page = tmp_path / "report.html"
    assert main(["report", "rep", "-o", str(page), "--db", store.url]) == 0
    html = page.read_text(encoding="utf-8")

    dom = _render(chromium, page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    marker = re.search(r'<div id="ps-report-ready" hidden="" data-charts="(\d+)" data-prompts="(\d+)">',
                       dom.stdout)
    assert marker, "the report's script did not run to the end:\n" + dom.stderr[-2000:]
    charts, prompts = map(int, marker.groups())
    assert charts >= 5 and prompts >= 1  # trials, importances, >= 2 choices, verdict; top prompts
    assert "Uncaught" not in dom.stderr and "Uncaught" not in dom.stdout

    shot = tmp_path / "report.png"
    done = _render(chromium, page, tmp_path, f"--screenshot={shot}", "--window-size=1200,2000",
                   "--hide-scrollbars")
    assert done.returncode == 0 and shot.stat().st_size > 20_000, done.stderr[-2000:]
    assert "Uncaught" not in done.stderr
    if os.environ.get("PROMPTSEARCH_KEEP_SCREENSHOT"):  # to look at it: a path to copy it to
        shutil.copy(shot, os.environ["PROMPTSEARCH_KEEP_SCREENSHOT"])
    assert html.count("<svg") == charts


def test_report_is_self_contained_and_escaped(report_db, tmp_path):
    store, record, _ = report_db
    page = tmp_path / "r.html"
    assert main(["report", "rep", "-o", str(page), "--db", store.url]) == 0
    html = page.read_text(encoding="utf-8")
    # nothing to fetch: no external scripts, styles, images or fonts
    assert not re.search(r'<(script|link|img|iframe)[^>]*(src|href)=', html)
    assert "@import" not in html and "url(" not in html
    assert re.findall(r"https?://[^\s\"'<]+", html) == ["http://www.w3.org/2000/svg"] * html.count("<svg")
    data = collect(store, record)
    for section in ("Score by trial", "Parameter importances", "Score by choice", "By number of demonstrations",
                    "By CoT trigger", "By layout", "By instruction", "Held-out verdict", "Top candidates"):
        assert section in html, section
    assert len(data.importances) >= 2 and sum(data.importances.values()) == pytest.approx(1)
    assert data.verdict is not None and data.verdict["conclusion"] in html.replace("&#x27;", "'")
    chat = [e for e in data.top if e.candidate.template == "chat"]
    if chat:  # the model's chat template is full of <|im_start|>: shown, never parsed as markup
        assert "&lt;|im_start|&gt;" in html and "<|im_start|>" not in html
    best = data.top[0].candidate.prompt
    from html import escape
    assert escape(best, quote=True) in html  # the whole prompt, not a shortened one


def test_report_refuses_to_overwrite(report_db, tmp_path, capsys):
    store, _, _ = report_db
    page = tmp_path / "keep.html"
    page.write_text("precious")
    assert main(["report", "rep", "-o", str(page), "--db", store.url]) == 2
    assert "exists; pass --force" in capsys.readouterr().err and page.read_text() == "precious"
    assert main(["report", "rep", "-o", str(page), "--force", "--db", store.url]) == 0


# ---------------------------------------------------------------------------- small searches (fake LM)

def test_report_of_a_search_with_too_few_trials(tmp_path, tiny_task, tiny_space, fake_lm):
    from promptsearch.report import render_report

    store = Store(f"sqlite:///{tmp_path}/s.db")
    record = new_search(store, "few", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    html = render_report(collect(store, record), "db")
    assert "no finished trials yet" in html and "none yet: run" in html
    run_trials(store, record, fake_lm, 2)
    data = collect(store, record)
    assert data.importances == {} and "at least 4 completed trials" in data.importance_note
    assert "at least 4 completed trials" in render_report(data, "db")


def test_report_shows_proposals_and_their_parents(tmp_path, tiny_task, tiny_space, fake_lm):
    from promptsearch.report import render_report

    store = Store(f"sqlite:///{tmp_path}/p.db")
    record = new_search(store, "prop", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    run_trials(store, record, fake_lm, 2)
    store.proposals.add_part(record.id, 1, "rewrite", 2, "1 accepted", [dict(
        text="Say <b>label</b>.", accepted=True, reason=None, pool_index=2,
        parents=[{"index": 0, "text": "Classify as {labels}.", "score": 0.5}], prompt="p", raw="r", proposer="fake")])
    html = render_report(collect(store, record), "db")
    assert "Proposals and lineage" in html and "Say &lt;b&gt;label&lt;/b&gt;." in html
    assert "accepted as #2" in html and "#0 (0.500)" in html


def test_report_shows_screen_scores_and_reflection_failures(tmp_path, tiny_task, tiny_space, fake_lm):
    from promptsearch.report import render_report

    store = Store(f"sqlite:///{tmp_path}/p.db")
    record = new_search(store, "prop", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    run_trials(store, record, fake_lm, 2)
    parent = {"index": 0, "text": "Classify as {labels}.", "score": 0.5, "trial": 1, "failures": ["ab12", "cd34"]}
    common = dict(parents=[parent], prompt="p", raw="r", proposer="fake")
    store.proposals.add_part(record.id, 1, "reflection", 2, "1 accepted, 0 rejected, 1 screened out", [
        dict(text="Kept.", accepted=True, reason=None, pool_index=2, screen_score=-1.25, **common),
        dict(text="Dropped.", accepted=False, reason="screened out: rank 2 of 2, score -3.10 < -1.25",
             pool_index=None, screen_score=-3.1, **common)])
    html = render_report(collect(store, record), "db")
    assert "accepted as #2 (screen score -1.25)" in html
    assert "screened out: rank 2 of 2, score -3.10 &lt; -1.25" in html
    assert "shown failures on dev examples ab12, cd34" in html


def test_dashboard_serves_the_study(tmp_path, tiny_task, tiny_space, fake_lm):
    pytest.importorskip("optuna_dashboard")
    import socket
    import time
    import urllib.request

    store = Store(f"sqlite:///{tmp_path}/d.db")
    record = new_search(store, "dash", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    run_trials(store, record, fake_lm, 2)
    store.engine.dispose()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([os.sys.executable, "-m", "promptsearch", "dashboard", "dash", "--port", str(port),
                             "--db", store.url], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline, studies = time.time() + 60, None
        while time.time() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2) as r:
                    studies = json.loads(r.read())
                break
            except OSError:
                time.sleep(0.3)
        why = proc.stderr.read1().decode() if proc.poll() is not None else "no answer in 60 s"
        assert studies is not None, why
        assert [s["study_name"] for s in studies["study_summaries"]] == ["promptsearch:dash"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/dashboard", timeout=5) as r:
            assert r.status == 200 and b"<html" in r.read().lower()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
