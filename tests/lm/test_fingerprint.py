"""Model fingerprints: the cache key is the weights' content, never the folder's name."""
import os
import time

import pytest
from psmodels import tiny_checkpoint

from promptsearch.lm import fingerprint
from promptsearch.lm.fingerprint import model_files, model_fingerprint
from promptsearch.lm import load_lm


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def test_same_folder_name_different_weights(tmp_path, cache, monkeypatch):
    a = tiny_checkpoint(tmp_path / "runs" / "a" / "checkpoint-500", seed=1)
    b = tiny_checkpoint(tmp_path / "runs" / "b" / "checkpoint-500", seed=2)
    monkeypatch.setenv("PROMPTSEARCH_CACHE", str(cache))  # after: the tokenizer comes from the real cache
    fa, fb = model_fingerprint(a, cache), model_fingerprint(b, cache)
    assert fa.startswith("hf:") and fa != fb
    lm_a, lm_b = load_lm(str(a), device="cpu"), load_lm(str(b), device="cpu")
    assert lm_a.name == lm_b.name == "checkpoint-500@fp32"  # the display name is the same ...
    assert lm_a.fingerprint == f"{fa}@fp32" and lm_b.fingerprint == f"{fb}@fp32"  # ... the key is not


def test_new_weights_in_the_same_folder_change_it(tmp_path, cache):
    ckpt = tiny_checkpoint(tmp_path / "ckpt", seed=1)
    before = model_fingerprint(ckpt, cache)
    tiny_checkpoint(ckpt, seed=3)  # retrained weights written over the old ones
    assert model_fingerprint(ckpt, cache) != before


def test_trainer_state_is_left_out(tmp_path, cache):
    ckpt = tiny_checkpoint(tmp_path / "ckpt", seed=1)
    before = model_fingerprint(ckpt, cache)
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json", "training_args.bin"):
        (ckpt / name).write_bytes(os.urandom(64))
    assert model_fingerprint(ckpt, cache) == before
    assert [p.name for p in model_files(ckpt)] == ["chat_template.jinja", "config.json", "generation_config.json",
                                                     "model.safetensors", "tokenizer.json", "tokenizer_config.json"]


def test_digests_are_computed_once_and_cached_by_path_size_and_mtime(tmp_path, cache, monkeypatch):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + os.urandom(4096))
    first = model_fingerprint(gguf, cache)
    assert first.startswith("gguf:") and (cache / fingerprint.CACHE_FILE).is_file()
    hashed = []
    real = fingerprint.hashlib.file_digest
    monkeypatch.setattr(fingerprint.hashlib, "file_digest", lambda f, alg: hashed.append(1) or real(f, alg))
    assert model_fingerprint(gguf, cache) == first and not hashed  # a stat, no read
    time.sleep(0.01)
    gguf.write_bytes(b"GGUF" + os.urandom(4096))  # same size, new content and mtime
    assert model_fingerprint(gguf, cache) != first and hashed == [1]


def test_the_embedded_model_and_a_remote_model(smollm):
    assert smollm.fingerprint.startswith("gguf:") and smollm.fingerprint.endswith("@fp32")
    assert smollm.name != smollm.fingerprint
    from promptsearch.lm.remote import load_remote
    remote = load_remote("openai/smollm2", api_base="http://127.0.0.1:9/v1")
    assert remote.fingerprint == "openai/smollm2@http://127.0.0.1:9/v1"
