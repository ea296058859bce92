"""Model fingerprints: what cached evaluations are keyed by, instead of a model's display name.

Two checkpoints that share a folder name (`runs/a/checkpoint-500`, `runs/b/checkpoint-500`, or
new weights written into the same folder) must never share cached scores, so the key is made
from the content:

  a .gguf file        the file's SHA-256
  a checkpoint folder the SHA-256 over (name, size, SHA-256) of its config, tokenizer and weight
                      files; trainer state (optimizer.pt, scheduler.pt, rng_state*.pth,
                      trainer_state.json, training_args.bin) does not change what the model
                      computes and is left out
  a remote model      provider/model and the API base (RemoteLM.name; weights are not visible)

Hashing weights is the slow part (a few hundred MB/s), so each file's digest is computed once
and kept in `<cache>/fingerprints.json` keyed by its absolute path, and trusted only while the
file's size, mtime, inode and ctime are unchanged. Size and mtime alone are not enough: `cp -p`
and `rsync -a` copy other weights of the same size over a file and set the old mtime back. The
ctime (inode change time) cannot be set by any user tool: the kernel sets it to "now" on every
write, rename into place, chmod or utime, so replaced weights always get a new one (and rsync's
rename gives a new inode too). As git does for its index, an entry whose file changed less than
SETTLE_NS before it was hashed is not trusted (file times tick in coarse steps, so a replacement
in the same step could keep the ctime): such a file is hashed again on its next load. Later loads
only stat the files. The precision the model runs in is appended by the loader (`...@fp32`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_FILE = "fingerprints.json"
_WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".model", ".tiktoken")
_SMALL = (".json", ".txt", ".jinja", ".py")  # configs, tokenizer files, chat templates, remote code
SETTLE_NS = 2_000_000_000  # a file changed less than this before it was hashed is hashed again next time
_TRAINER = ("optimizer", "scheduler", "rng_state", "trainer_state", "training_args", "scaler")


def model_files(folder: Path) -> list[Path]:
    """The files of a checkpoint folder that decide what the model computes, sorted by name."""
    out = []
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.name.startswith(".") or p.name.startswith(_TRAINER):
            continue
        if p.suffix in _WEIGHTS or p.suffix in _SMALL:
            out.append(p)
    return out


def model_fingerprint(source: Path, cache_dir: Path) -> str:
    """'gguf:<hex>' for a .gguf file, 'hf:<hex>' for a checkpoint folder (32 hex digits)."""
    t0 = time.perf_counter()
    cache = _DigestCache(cache_dir / CACHE_FILE)
    if source.is_file():
        out = "gguf:" + cache.digest(source)[:32]
    else:
        h = hashlib.sha256()
        for p in model_files(source):
            h.update(f"{p.name}\0{p.stat().st_size}\0{cache.digest(p)}\n".encode())
        out = "hf:" + h.hexdigest()[:32]
    cache.save()
    log.debug("fingerprint of %s: %s in %.3f s (%d file(s) hashed)", source, out,
              time.perf_counter() - t0, cache.hashed)
    return out


class _DigestCache:
    """SHA-256 of files by path, valid while (size, mtime, ctime, inode, device) is unchanged; in
    one JSON file shared by every process: a lost update between two processes only costs a
    recomputation."""

    def __init__(self, path: Path):
        self.path, self.changed, self.hashed = path, False, 0
        try:
            self.entries: dict[str, dict] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.entries = {}

    def digest(self, file: Path) -> str:
        st = file.stat()
        key = str(file.resolve())
        entry = self.entries.get(key)
        if isinstance(entry, dict) and entry.get("stat") == _identity(st) and \
                st.st_ctime_ns + SETTLE_NS <= entry.get("hashed_ns", 0):
            return entry["sha256"]
        started = time.time_ns()
        with open(file, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
            after = os.fstat(f.fileno())
        self.hashed += 1
        if _identity(after) == _identity(st):  # not changed while it was read
            self.entries[key] = {"stat": _identity(st), "hashed_ns": started, "sha256": digest}
            self.changed = True
        return digest

    def save(self) -> None:
        if not self.changed:
            return
        # Files that are gone (deleted checkpoints) are dropped, so the file does not grow forever.
        self.entries = {k: v for k, v in self.entries.items() if os.path.exists(k)}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".fingerprints-", dir=self.path.parent)
            with os.fdopen(fd, "w") as f:
                json.dump(self.entries, f)
            os.replace(tmp, self.path)  # atomic: readers never see half a file
        except OSError as e:  # a read-only cache only costs time
            log.warning("could not save model fingerprints to %s: %s", self.path, e)


def _identity(st: os.stat_result) -> list[int]:
    """What a copy cannot carry over: a file replaced in place, even with its old size and mtime
    restored, has a new ctime (and usually a new inode)."""
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]
