"""Files the commands write (exports, reports, backups): the rules live in promptsearch/outfile.py,
the one writer of user-facing files; this module adds what the service layer knows, the database
a command has open."""
from __future__ import annotations

from pathlib import Path

from promptsearch.outfile import check_output, database_files, write_output, write_with
from promptsearch.storage.store import Store

__all__ = ["check_output", "held_files", "write_output", "write_with"]


def held_files(store: Store) -> list[Path]:
    """The files SQLite holds for the store's database (none for a server database): an output
    path naming one of them is refused."""
    return database_files(store.sqlite_file)
