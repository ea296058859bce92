"""Databases in a hostile environment, for the tests of what a command does there (a module of
its own, shared by tests/storage and tests/errors)."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextmanager
def read_only_copy(db: Path, folder: Path) -> Iterator[Path]:
    """A copy of `db` in `folder` that cannot be written: on a read-only tmpfs when root (root
    writes any file whatever its mode), else a 0444 file in a 0555 folder."""
    folder.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)],
                          capture_output=True).returncode != 0:
            pytest.skip("root, but cannot mount a tmpfs to make a read-only file system")
        try:
            shutil.copy(db, folder / db.name)
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True, capture_output=True)
            yield folder / db.name
        finally:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        return
    shutil.copy(db, folder / db.name)
    (folder / db.name).chmod(0o444)
    folder.chmod(0o555)
    try:
        yield folder / db.name
    finally:
        folder.chmod(0o755)
        (folder / db.name).chmod(0o644)
