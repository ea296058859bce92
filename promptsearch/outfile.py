"""Every file promptsearch writes for the user (export -o, report -o, db backup -o) goes through here.

The rules, checked before any work and again just before the rename:

- the output is a regular file, or does not exist yet. `--force` replaces a regular file and
  nothing else: a device node (/dev/null), a FIFO, a socket or a folder, or a symbolic link to
  one of those, is refused, never replaced by a file;
- never a file SQLite holds for a database the command has open (the .db and its -wal, -shm,
  -journal and our .lock), compared by resolved path and by inode, so that a symbolic or hard
  link to the database is caught too;
- written atomically: a temporary file in the same folder, flushed to disk (fsync), then renamed
  over the target (os.replace), then the folder flushed. A killed command never leaves half a file,
  and a full disk leaves the old file as it was;
- an empty, over-long or unwritable path is a one-line UserError naming the flag, not a traceback.

`-o` naming a symbolic link to a regular file writes the file the link points to (the link stays
a link; renaming over the link itself would silently replace it with a file).

This module sits at the bottom of the package (like errors.py): the report and storage layers
write through it as well as the service layer.
"""
from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from promptsearch.errors import UserError

SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal", ".lock")  # the files SQLite (and locks.py) keep


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words (None for a regular file)."""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a regular file"


def _oserror(flag: str, path: object, e: OSError) -> UserError:
    if e.errno == errno.ENAMETOOLONG:
        return UserError(f"{flag}: the path is too long for the file system; choose a shorter name")
    return UserError(f"{flag}: cannot write {path} ({e.strerror or e}); choose another file")


def database_files(sqlite_file: Path | None) -> list[Path]:
    """The files SQLite may hold for the database at `sqlite_file` (existing or not)."""
    if sqlite_file is None:
        return []
    return [Path(f"{sqlite_file}{suffix}") for suffix in SQLITE_SUFFIXES]


def check_output(path: str | Path, *, overwrite: bool, flag: str = "-o", force: str = "--force",
                 protect: Iterable[Path] = ()) -> Path:
    """The file to write, checked before any work (see the module docstring). `protect`: files
    that must never be written (database_files of the open database). For a symbolic link, the
    file it points to, which is what gets written."""
    if not isinstance(path, (str, Path)) or not str(path).strip():
        raise UserError(f"{flag}: the output path is empty; name a file")
    if "\0" in str(path):
        raise UserError(f"{flag}: the output path contains a NUL character; name a file")
    target = Path(path)
    try:
        return _checked(target, overwrite, flag, force, list(protect))
    except OSError as e:
        raise _oserror(flag, target, e) from None


def _checked(target: Path, overwrite: bool, flag: str, force: str, protect: list[Path]) -> Path:
    if len(target.name.encode()) > os.pathconf(target.parent if target.parent.is_dir() else ".", "PC_NAME_MAX"):
        raise UserError(f"{flag}: the file name is too long for the file system ({len(target.name)} "
                        f"characters); choose a shorter name")
    exists = os.path.lexists(target)
    if exists and not overwrite:
        raise UserError(f"{flag}: {target} exists; pass {force} to overwrite it")
    real = Path(os.path.realpath(target))
    if exists or target.is_symlink():
        try:
            kind = _kind(os.stat(target).st_mode)
        except FileNotFoundError:  # a dangling link: the file it names is created
            kind = None
        if kind is not None:
            via = f" (a link to {real})" if target.is_symlink() else ""
            raise UserError(f"{flag}: {target}{via} is {kind}; promptsearch writes only regular files, "
                            f"and {force} replaces a regular file only")
    if not real.parent.is_dir():
        if target.is_symlink():
            raise UserError(f"{flag}: {target} is a link to {real}, whose folder does not exist")
        if os.path.lexists(real.parent):
            raise UserError(f"{flag}: {target.parent} is not a folder; choose a file in a folder")
        raise UserError(f"{flag}: folder {target.parent} does not exist")
    if not os.access(real.parent, os.W_OK | os.X_OK):
        raise UserError(f"{flag}: folder {real.parent} cannot be written; choose another file")
    _refuse_database(target, real, flag, protect)
    return real


def _refuse_database(target: Path, real: Path, flag: str, protect: list[Path]) -> None:
    """By resolved path, and by (device, inode) for a hard link."""
    try:
        st = os.stat(real)
        inode = (st.st_dev, st.st_ino)
    except OSError:
        inode = None
    for held in protect:
        same = Path(os.path.realpath(held)) == real
        if not same and inode is not None:
            try:
                h = os.stat(held)
                same = (h.st_dev, h.st_ino) == inode
            except OSError:
                pass
        if same:
            raise UserError(f"{flag}: {target} is the database this command reads ({held}); "
                            "writing it would destroy its searches; choose another file")


def write_output(path: Path, text: str, flag: str = "-o", protect: Iterable[Path] = ()) -> None:
    """Write `text` (UTF-8) to `path`, atomically (see write_with)."""
    write_with(path, lambda tmp: tmp.write_bytes(text.encode("utf-8")), flag, protect)


def write_with(path: Path, write: Callable[[Path], object], flag: str = "-o", protect: Iterable[Path] = ()) -> None:
    """`write(tmp)` fills a temporary file beside `path`, which is then synced and renamed over
    `path`. `path` is checked again right before the rename (it may have changed since
    check_output). The file gets the replaced file's permissions, or the usual ones (0666 less the
    umask) for a new file."""
    protect = list(protect)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise _oserror(flag, path, e) from None
    tmp = Path(name)
    try:
        os.close(fd)
        write(tmp)
        os.chmod(tmp, _mode_for(path))
        _fsync(tmp)
        _checked(path, True, flag, "--force", protect)  # a FIFO put there meanwhile is still refused
        os.replace(tmp, path)
        _fsync(path.parent)
    except OSError as e:
        raise _oserror(flag, path, e) from None
    finally:
        tmp.unlink(missing_ok=True)


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk; a file system that cannot sync a folder is
    not an error."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as e:
        if not path.is_dir() or e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)
