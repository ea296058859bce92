"""Credentials in an API base (issue 25, class 5) are used, never stored and never shown: a label
search on a scripted OpenAI-compatible server (tests/fakeserver.py) with a password and a key in
its URL, then `show`, the database's bytes, and `resume` without and with PROMPTSEARCH_API_BASE."""
from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest
from fakeserver import FakeCompletions

from promptsearch.cli.main import main
from promptsearch.lm import urls
from promptsearch.lm.urls import check_api_base, masked_url, redact

SECRETS = ("s3cret-pw", "k3y-v4lue", "t0ken-v4lue")


@pytest.fixture
def server():
    fake = FakeCompletions(mode="ok")
    yield fake
    fake.close()


def _db_text(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()


def test_credentials_are_used_masked_and_never_stored(server, tmp_path, tiny_task, tiny_space, capsys, monkeypatch):
    monkeypatch.setattr(urls, "_KNOWN_URLS", {})  # as a new process
    monkeypatch.delenv(urls.ENV_API_BASE, raising=False)
    url = server.url.replace("http://", "http://bob:s3cret-pw@") + "?api_key=k3y-v4lue&token=t0ken-v4lue&v=2"
    db = tmp_path / "e.db"
    argv = ["--db", f"sqlite:///{db}"]
    assert main(["optimize", str(tiny_task), "--space", str(tiny_space), "--model", "openai/m", "--api-base", url,
                 "--trials", "2", "--name", "r", "-v", *argv]) == 0, capsys.readouterr().err
    out = capsys.readouterr()
    assert not any(s in out.out + out.err for s in SECRETS)
    assert main(["show", "r", *argv]) == 0
    out = capsys.readouterr()
    assert not any(s in out.out + out.err for s in SECRETS) and "***" in out.out
    from promptsearch.storage import Store
    store = Store(f"sqlite:///{db}", create=False, read_only=True)
    assert store.get_search("r").settings["api_base"] == masked_url(url) == \
        server.url.replace("http://", "http://***:***@") + "?api_key=***&token=***&v=2"
    store.close()
    stored = _db_text(db)
    assert not any(s in stored for s in SECRETS) and "***" in stored
    # the server was sent the password as HTTP Basic authentication, not in the address
    assert server.bodies, "the server was never called"

    monkeypatch.setattr(urls, "_KNOWN_URLS", {})  # a later process: the credentials are gone
    assert main(["resume", "r", "--trials", "1", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert "had credentials, which are not stored" in err and "PROMPTSEARCH_API_BASE" in err and "\n" not in err
    assert not any(s in err for s in SECRETS)
    monkeypatch.setenv(urls.ENV_API_BASE, f"http://other:x@127.0.0.1:9/v1 {url}")
    assert main(["resume", "r", "--trials", "1", *argv]) == 0, capsys.readouterr().err
    assert not any(s in _db_text(db) for s in SECRETS)


def test_basic_authentication_from_the_url():
    sent, headers = urls.with_auth("http://bob:s3cret%2Fpw@h:8/v1/completions?x=1", "KEY")
    assert sent == "http://h:8/v1/completions?x=1"
    assert base64.b64decode(headers["Authorization"].split()[1]) == b"bob:s3cret/pw"
    assert urls.with_auth("http://h/v1", "KEY") == ("http://h/v1", {"Authorization": "Bearer KEY"})


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://h/v1", "gopher://h", "javascript:alert(1)",
                                 "http://", "http:///v1", "//h/v1", "h:80", "", " ", "http://h:0x50/v1",
                                 "http://h:-1/v1", "http://[::1/v1", "http://h/v1\n", "http://h /v1",
                                 "data:text/plain,hi", "HTTP://H/v1?token=t0ken-v4lue&x=s3cret-pw"])
def test_only_http_urls_and_never_a_secret_in_the_message(url):
    if url.startswith("HTTP://"):
        assert check_api_base(url) == url  # the scheme is case-insensitive
        return
    with pytest.raises(Exception) as caught:
        check_api_base(url)
    assert type(caught.value).__name__ == "ConfigError"
    assert str(caught.value).startswith("--api-base: ") and "\n" not in str(caught.value)


@pytest.mark.parametrize("url", ["http://bob:s3cret-pw@h/v1", "http://s3cret-pw@h/v1?api_key=k3y-v4lue",
                                 "https://h/v1?Token=t0ken-v4lue&api-key=k3y-v4lue", "http://bob:s3cret-pw@[::1/v1",
                                 "http://bob:s3cret-pw@h:99999/v1?key=k3y-v4lue"])
def test_masked_everywhere(url):
    shown = masked_url(url)
    assert not any(s in shown for s in SECRETS), shown
    assert not any(s in redact(f"error at {url}: k3y-v4lue s3cret-pw t0ken-v4lue", url) for s in SECRETS
                   if s in url)


def _generation_task(task: Path) -> Path:
    task.write_text(task.read_text().replace("labels: [negative, positive]\n", "")
                    .replace("metric: accuracy", "metric: exact_match"))
    return task


def test_a_generation_search_probes_its_server_first(smollm, tmp_path, tiny_task, tiny_space, capsys):
    """On `promptsearch serve` of the real embedded model the probe passes and the search runs; on
    a server that is gone, nothing is written (not even the database file) and one line says why."""
    import threading

    from promptsearch.serve import make_server

    task = _generation_task(tiny_task)
    srv = make_server(smollm, "127.0.0.1", 0, model_id="smollm2")
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        db = tmp_path / "e.db"
        assert main(["optimize", str(task), "--space", str(tiny_space), "--model", "openai/smollm2",
                     "--api-base", srv.url, "--trials", "1", "--dev-limit", "2", "--name", "g",
                     "--db", f"sqlite:///{db}"]) == 0, capsys.readouterr().err
    finally:
        srv.shutdown()
        srv.server_close()
    capsys.readouterr()
    gone = tmp_path / "gone.db"
    assert main(["optimize", str(task), "--space", str(tiny_space), "--model", "openai/smollm2",
                 "--api-base", srv.url, "--trials", "1", "--db", f"sqlite:///{gone}"]) == 2
    err = capsys.readouterr().err.strip()
    # the probe's endpoint is named (/completions for a plain prompt, else /chat/completions)
    assert err.startswith(f"error: model 'openai/smollm2' at {srv.url}") and "\n" not in err
    assert ": request failed after 1 retries (" in err
    assert not gone.exists()
