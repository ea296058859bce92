"""Model fingerprints: the cache key is the weights' content, never the folder's name."""
import os
import shutil
import subprocess
import time

import pytest
from psmodels import tiny_checkpoint

from promptsearch.lm import fingerprint, load_lm
from promptsearch.lm.fingerprint import model_files, model_fingerprint


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
    monkeypatch.setattr(fingerprint, "SETTLE_NS", 0)  # trust a file written just now (see the racy test)
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + os.urandom(4096))
    time.sleep(0.05)  # file times tick in steps of a few ms: the hash comes a step after the write
    first = model_fingerprint(gguf, cache)
    assert first.startswith("gguf:") and (cache / fingerprint.CACHE_FILE).is_file()
    hashed = []
    real = fingerprint.hashlib.file_digest
    monkeypatch.setattr(fingerprint.hashlib, "file_digest", lambda f, alg: hashed.append(1) or real(f, alg))
    assert model_fingerprint(gguf, cache) == first and not hashed  # a stat, no read
    time.sleep(0.01)
    gguf.write_bytes(b"GGUF" + os.urandom(4096))  # same size, new content and mtime
    assert model_fingerprint(gguf, cache) != first and hashed == [1]


# --- issue 25, class 3: metadata a copy preserves cannot fool the cache -------------------------

def _two_weights(tmp_path):
    a, b = tmp_path / "a.gguf", tmp_path / "b.gguf"
    a.write_bytes(b"GGUF" + os.urandom(4096))
    b.write_bytes(b"GGUF" + os.urandom(4096))  # the same size: a checkpoint of the same shape
    return a, b


@pytest.mark.parametrize("settle_ns", [0, fingerprint.SETTLE_NS])
def test_weights_replaced_in_place_with_the_old_size_and_mtime(tmp_path, cache, monkeypatch, settle_ns):
    monkeypatch.setattr(fingerprint, "SETTLE_NS", settle_ns)
    a, b = _two_weights(tmp_path)
    time.sleep(0.05)
    st = a.stat()
    first = model_fingerprint(a, cache)
    time.sleep(0.05)
    with open(a, "r+b") as f:  # in place: the same inode, as `cp -p` over an existing file
        f.write(b.read_bytes())
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the old modification time back
    assert (a.stat().st_size, a.stat().st_mtime_ns, a.stat().st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)
    assert model_fingerprint(a, cache) != first
    assert model_fingerprint(a, cache) == model_fingerprint(b, cache)


def test_weights_renamed_into_place_with_the_old_mtime(tmp_path, cache, monkeypatch):
    """As `rsync -a` does: a temporary file with the source's mtime, renamed over the target."""
    monkeypatch.setattr(fingerprint, "SETTLE_NS", 0)
    a, b = _two_weights(tmp_path)
    time.sleep(0.05)
    first = model_fingerprint(a, cache)
    tmp = tmp_path / ".a.gguf.tmp"
    tmp.write_bytes(b.read_bytes())
    os.utime(tmp, ns=(a.stat().st_atime_ns, a.stat().st_mtime_ns))
    os.replace(tmp, a)
    assert model_fingerprint(a, cache) != first


@pytest.mark.skipif(shutil.which("cp") is None, reason="needs cp")
def test_cp_p_of_a_checkpoint_of_the_same_shape(tmp_path, cache, monkeypatch):
    """The issue's case through the real loader: weights of another checkpoint copied over with
    `cp -p` (same size, the source's mtime) give that checkpoint's fingerprint, not the old one."""
    monkeypatch.setattr(fingerprint, "SETTLE_NS", 0)
    a = tiny_checkpoint(tmp_path / "a", seed=1)
    b = tiny_checkpoint(tmp_path / "b", seed=2)
    os.utime(b / "model.safetensors", ns=(0, (a / "model.safetensors").stat().st_mtime_ns))
    time.sleep(0.05)
    before = model_fingerprint(a, cache)
    time.sleep(0.05)
    subprocess.run(["cp", "-p", str(b / "model.safetensors"), str(a / "model.safetensors")], check=True)
    assert (a / "model.safetensors").stat().st_mtime_ns == (b / "model.safetensors").stat().st_mtime_ns
    after = model_fingerprint(a, cache)
    assert after != before and after == model_fingerprint(b, cache)


def test_a_file_hashed_right_after_it_changed_is_hashed_again(tmp_path, cache, monkeypatch):
    """Within SETTLE_NS of its last change a file could still change without a new ctime (the
    clock ticks in steps): its digest is not trusted until it has settled."""
    gguf, _ = _two_weights(tmp_path)
    model_fingerprint(gguf, cache)
    hashed = []
    real = fingerprint.hashlib.file_digest
    monkeypatch.setattr(fingerprint.hashlib, "file_digest", lambda f, alg: hashed.append(1) or real(f, alg))
    model_fingerprint(gguf, cache)
    assert hashed == [1]
    monkeypatch.setattr(fingerprint, "SETTLE_NS", 0)  # as if the settling time had passed
    model_fingerprint(gguf, cache)
    assert hashed == [1]  # once settled, a stat is enough again


def test_the_embedded_model_and_a_remote_model(smollm):
    assert smollm.fingerprint.startswith("gguf:") and smollm.fingerprint.endswith("@fp32")
    assert smollm.name != smollm.fingerprint
    from promptsearch.lm.remote import load_remote
    remote = load_remote("openai/smollm2", api_base="http://127.0.0.1:9/v1")
    assert remote.fingerprint == "openai/smollm2@http://127.0.0.1:9/v1"
