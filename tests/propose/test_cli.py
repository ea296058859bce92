"""Proposal through the CLI, on the real embedded model: a `propose` block in the space file."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from optuna.trial import TrialState

from promptsearch.cli.main import main
from promptsearch.search.budget import spent
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
    names = {n for t in study.trials for n in t.params}
    assert "instruction" not in names and any(n.startswith("instruction_origin_") for n in names)  # categories
    assert any(n.startswith("instruction_proposal_") for n in names)
    capsys.readouterr()
    assert main(["show", "p", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "Proposed instructions" in out and "induction" in out


def test_shipped_propose_space_parses():
    from promptsearch.config import load_space
    assert load_space(ROOT / "search_spaces" / "propose.yaml").propose["every"] == 6


class _ProposerServer:
    """An OpenAI-compatible chat endpoint that answers in DSPy's ChatAdapter format, as a hosted
    model that follows DSPy's adapters would; it records what it was sent."""

    def __init__(self):
        from psdata import send_json
        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                seen.append(req)
                n = req.get("n") or 1
                texts = [f"[[ ## instruction ## ]]\nDecide if the review is positive or negative ({len(seen)}.{i})."
                         f"\n\n[[ ## completed ## ]]" for i in range(n)]
                send_json(self, 200, {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                      "choices": [{"index": i, "finish_reason": "stop",
                                                   "message": {"role": "assistant", "content": t}}
                                                  for i, t in enumerate(texts)],
                                      "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}})

            def log_message(self, *args):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/v1"

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def test_optimize_with_a_dspy_proposer_over_http(tmp_path, smollm):
    # --proposer openai/m: the proposal programs run as a DSPy signature through dspy.LM over HTTP;
    # the task itself is scored by the embedded model.
    space = tmp_path / "space.yaml"
    space.write_text("name: p\ninstructions: ['Classify the {inputs}: {labels}.']\n"
                     "propose:\n  methods: [induction]\n  rounds: 1\n  n: 2\n  draws: 1\n  examples: 3\n")
    server = _ProposerServer()
    try:
        db = f"sqlite:///{tmp_path}/p.db"
        assert main(["optimize", str(ROOT / "examples" / "review_sentiment.yaml"), "--space", str(space),
                     "--trials", "3", "--name", "p", "--dev-limit", "4", "--db", db,
                     "--proposer", "openai/m", "--proposer-api-base", server.url]) == 0
    finally:
        server.close()
    probe, *seen = server.seen  # the proposer answers one tiny request before the search is written
    assert (probe.get("max_completion_tokens") or probe.get("max_tokens")) == 1  # over HTTP or through DSPy
    assert seen and "The instruction was to" in json.dumps(seen[0]["messages"])
    store = Store(db, create=False)
    record = store.get_search("p")
    rows = proposal_lineage(store, record)
    assert rows and {r["method"] for r in rows} == {"induction"}
    assert all(r["text"].startswith("Decide if the review is positive or negative") for r in rows)
    study = store.load_study(record)
    ran = {t.user_attrs.get("instruction") for t in study.get_trials(states=(TrialState.COMPLETE,))}
    assert any(i and i.startswith("Decide if the review") for i in ran), ran
    # its requests count toward a budget: every answer it returned is an (unpriced) call of the search
    answers = sum(r.get("n") or 1 for r in seen)
    assert spent(study.get_trials()).unpriced_calls == answers > 0
