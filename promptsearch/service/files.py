"""Files the commands write (exports, reports): checked before any work, written atomically."""
from __future__ import annotations

import os
from pathlib import Path

from promptsearch.errors import UserError


def check_output(path: str | Path, *, overwrite: bool, flag: str = "-o", force: str = "--force") -> Path:
    """The file to write, checked before any work: its folder exists, and it is new unless `overwrite`."""
    target = Path(path)
    if not target.parent.exists():
        raise UserError(f"{flag}: folder {target.parent} does not exist")
    if target.exists() and not overwrite:
        raise UserError(f"{flag}: {target} exists; pass {force} to overwrite it")
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
