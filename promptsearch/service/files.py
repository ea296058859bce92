"""Files the commands write (exports, reports): checked before any work, written atomically.

A write goes to a temporary file beside the target, then is renamed over it: a killed command
never leaves half a file. `-o` naming a symbolic link writes the file the link points to (with
--force), so the link stays a link; renaming over the link itself would silently replace it.
"""
from __future__ import annotations

import os
from pathlib import Path

from promptsearch.errors import UserError


def check_output(path: str | Path, *, overwrite: bool, flag: str = "-o", force: str = "--force") -> Path:
    """The file to write, checked before any work: its folder exists, and it is new unless
    `overwrite`. For a symbolic link, the file it points to (which is what gets written)."""
    target = Path(path)
    if not target.parent.exists():
        raise UserError(f"{flag}: folder {target.parent} does not exist")
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise UserError(f"{flag}: {target} exists; pass {force} to overwrite it")
    if target.is_symlink():
        real = Path(os.path.realpath(target))
        if not real.parent.is_dir():
            raise UserError(f"{flag}: {target} is a link to {real}, whose folder does not exist")
        target = real
    return target


def write_output(path: Path, text: str, flag: str = "-o") -> None:
    """Write beside the target, then rename: a killed export never leaves half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{flag}: cannot write {path} ({e.strerror}); free some space or choose another file") from None
