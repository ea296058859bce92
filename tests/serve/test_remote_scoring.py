"""Remote label scoring over /v1/completions against scripted servers (tests/fakeserver.py):
retries honouring Retry-After, bounded concurrency, servers without prompt log-probs, and a
search that loses a trial, not itself, when the server fails."""
from __future__ import annotations

import pytest
from fakeserver import FakeCompletions

from promptsearch.cli.main import main
from promptsearch.errors import ModelCallError, NoLogprobsError
from promptsearch.lm.base import LoglikelihoodRequest
from promptsearch.lm.http import CallFailed, RetryPolicy, post_json, retry_after
from promptsearch.lm.remote import load_remote
from promptsearch.search.results import trial_counts
from promptsearch.storage import Store

REVIEW = "Classify.\n\nReview: the soup was great, I think it is positive\nLabel:"


@pytest.fixture
def fake():
    servers = []

    def make(*args, **kw) -> FakeCompletions:
        servers.append(FakeCompletions(*args, **kw))
        return servers[-1]
    yield make
    for s in servers:
        s.close()


def test_two_rate_limits_then_success(fake):
    srv = fake(script=[429, 429], retry_after="0")
    lm = load_remote("openai/m", api_base=srv.url, concurrency=1)  # one request: both prompts
    out = lm.loglikelihood([LoglikelihoodRequest(REVIEW, " positive"), LoglikelihoodRequest(REVIEW, " negative")])
    assert [r.logprob for r in out] == [-1.0, -5.0] and [r.num_tokens for r in out] == [1, 1]
    assert len(srv.bodies) == 3  # two 429s, then the answer
    body = srv.bodies[-1]
    assert body["echo"] is True and body["max_tokens"] == 0 and body["logprobs"] == 1 and body["model"] == "m"
    assert body["prompt"] == [REVIEW + " positive", REVIEW + " negative"]
    assert lm.usage["calls"] == 1 and lm.usage["prompt_tokens"] > 0


def test_retry_after_is_honoured_and_backoff_is_exponential(fake):
    waits: list[float] = []
    srv = fake(script=[429, 503], retry_after="7")
    post_json(srv.url + "/completions", {"prompt": "a b"}, headers={}, timeout=10, policy=RetryPolicy(),
              sleep=waits.append)
    assert waits == [7.0, 7.0]
    waits.clear()
    srv = fake(script=[503, 502], retry_after=None)
    post_json(srv.url + "/completions", {"prompt": "a b"}, headers={}, timeout=10,
              policy=RetryPolicy(base=0.5), sleep=waits.append)
    assert 0.5 <= waits[0] <= 0.55 and 1.0 <= waits[1] <= 1.1
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    srv = fake(script=[404], retry_after="0")  # not retryable
    with pytest.raises(CallFailed) as failed:
        post_json(srv.url + "/completions", {"prompt": "a"}, headers={}, timeout=10, policy=RetryPolicy(),
                  sleep=waits.append)
    assert failed.value.status == 404 and failed.value.attempts == 1 and "scripted failure" in failed.value.reason


def test_retries_run_out_with_one_line(fake):
    srv = fake(mode="fail", retry_after="0")
    lm = load_remote("openai/m", api_base=srv.url, num_retries=2)
    with pytest.raises(ModelCallError) as e:
        lm.loglikelihood([LoglikelihoodRequest(REVIEW, " positive")])
    assert str(e.value) == (f"model 'openai/m' at {srv.url}/completions: request failed after 2 retries (HTTP 500: "
                            f"scripted failure); check --api-base, the API key and the server")
    assert len(srv.bodies) == 3


def test_requests_in_flight_are_bounded(fake):
    srv = fake(delay=0.05)
    lm = load_remote("openai/m", api_base=srv.url, concurrency=3)
    requests = [LoglikelihoodRequest(f"Review {i}: fine\nLabel:", " fine") for i in range(60)]
    out = lm.loglikelihood(requests)
    assert [r.logprob for r in out] == [-1.0] * 60  # in request order
    assert 1 < srv.max_in_flight <= 3 and len(srv.bodies) >= 3


@pytest.mark.parametrize("mode,said", [
    ("no-logprobs", "returned no prompt log-probs (`logprobs` is null)"),
])
def test_a_server_without_prompt_logprobs_is_refused(fake, mode, said):
    srv = fake(mode=mode)
    lm = load_remote("openai/m", api_base=srv.url)
    with pytest.raises(NoLogprobsError) as e:
        lm.check_loglikelihood()
    assert str(e.value).startswith(f"model 'openai/m' at {srv.url}/completions: {said}")
    assert "\n" not in str(e.value)


def test_generated_logprobs_only_are_refused():
    """A server that ignores echo and scores only what it generated (llama-server today)."""
    from promptsearch.lm import completions
    choice = {"text": " yes", "logprobs": {"tokens": [" yes"], "token_logprobs": [-0.2], "text_offset": [0]}}
    with pytest.raises(NoLogprobsError, match="do not cover the 30-character prompt"):
        completions.score(choice, "The capital of France is", " Paris", "here")


def test_a_server_that_wants_one_token_is_asked_with_one(fake):
    srv = fake(mode="min-one")
    lm = load_remote("openai/m", api_base=srv.url)
    out = lm.loglikelihood([LoglikelihoodRequest(REVIEW, " positive")])
    assert out[0].logprob == -1.0 and out[0].num_tokens == 1  # the generated " yes" is not counted
    assert [b["max_tokens"] for b in srv.bodies] == [0, 1]


# requests a label search on a remote model sends before it is written: one scoring request (prompt
# log-probs?) and one one-token generation (does /v1/completions take a plain prompt?)
PROBES = 2


def _space(tmp_path):
    p = tmp_path / "space.yaml"
    p.write_text("name: direct\ninstructions: ['Classify as {labels}.', 'Sentiment?', 'Read it.']\n"
                 "demos:\n  counts: [0, 2]\n  selection: [random]\n  draws: 2\ntemplates: [plain]\nseed: 0\n")
    return p


def test_a_failing_server_fails_a_trial_not_the_search(fake, tmp_path, tiny_task, caplog):
    srv = fake()
    srv.script = []  # the probes succeed; then the first trial's calls all fail
    db = f"sqlite:///{tmp_path}/f.db"
    argv = ["optimize", str(tiny_task), "--space", str(_space(tmp_path)), "--model", "openai/m", "--api-base",
            srv.url, "--concurrency", "2", "--db", db]
    original = srv._answer
    calls = {"n": 0}

    def flaky(body, status):
        calls["n"] += 1
        # PROBES requests before the search is written, then trial 0: both chunks x 6 tries
        return original(body, 500 if PROBES < calls["n"] <= PROBES + 6 * 2 else status)
    srv._answer = flaky
    assert main([*argv, "--trials", "2", "--name", "flaky"]) == 0
    store = Store(db, create=False)
    record = store.get_search("flaky")
    assert record.settings["concurrency"] == 2
    counts = trial_counts(store, record)
    assert counts["complete"] == 2 and counts["fail"] == 1
    failed = next(t for t in store.load_study(record).trials if t.state.name == "FAIL")
    assert "HTTP 500: scripted failure" in failed.user_attrs["error"] and failed.user_attrs["lm_calls"] == 0
    assert "trial 0 failed, the search goes on" in caplog.text


def test_a_server_that_stays_down_stops_the_search(fake, tmp_path, tiny_task, capsys):
    srv = fake()
    db = f"sqlite:///{tmp_path}/d.db"
    original = srv._answer
    calls = {"n": 0}

    def down(body, status):
        calls["n"] += 1
        return original(body, 500 if calls["n"] > PROBES else status)  # only the probes are answered
    srv._answer = down
    code = main(["optimize", str(tiny_task), "--space", str(_space(tmp_path)), "--model", "openai/m", "--api-base",
                 srv.url, "--trials", "5", "--name", "down", "--db", db])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2
    assert err.startswith("error: stopped after 3 trials in a row failed on the model; the last: model 'openai/m' at ")
    assert err.endswith("search 'down' is saved with 0 completed trials: fix this, then continue with "
                        "`promptsearch resume down --trials N`")
    store = Store(db, create=False)
    assert trial_counts(store, store.get_search("down"))["fail"] == 3


def test_label_search_refused_before_any_write(fake, tmp_path, tiny_task, capsys):
    srv = fake(mode="no-logprobs")
    code = main(["optimize", str(tiny_task), "--space", str(_space(tmp_path)), "--model", "openai/m", "--api-base",
                 srv.url, "--label-scoring", "loglikelihood", "--db", f"sqlite:///{tmp_path}/n.db"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and f"at {srv.url}/completions: returned no prompt log-probs" in err
    assert not (tmp_path / "n.db").exists()
