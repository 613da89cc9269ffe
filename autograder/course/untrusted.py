"""Reading what a student submitted: files, folder names and text are hostile data.

The contract:

* :func:`read_submitted` returns a submitted file's bytes only if it is a
  regular file reached without following any symbolic link (the file itself,
  and every folder above it up to the absolute path the caller gives, must be
  real folders), opened with ``O_NOFOLLOW | O_NONBLOCK`` and checked with
  ``fstat`` on the open descriptor; otherwise it raises :class:`Refused` with a
  reason that is safe to show the student (it never names the target). So a
  FIFO never blocks, a device is never opened, and a symlink to the
  instructor's source or to another student's notebook reads nothing.
* :func:`student_id_problem` says why a folder name cannot be a student id
  (``None`` if it can): ids are what reports, feedback folders, the gradebook
  and ``autograded/`` are keyed by.
* :func:`printable` and :func:`clean` make any text safe to write anywhere
  (UTF-8 files, JSON, SQLite, a terminal): lone surrogates become ``\\udXXX``
  escapes, so that no write can fail on a string.

Standard library only (this wing imports nothing of the package).
"""

from __future__ import annotations

import errno
import os
import stat
import unicodedata
from pathlib import Path

#: longest student id, in characters
MAX_ID_CHARS = 64
#: longest file-name form of a student id (non-ASCII letters take 3 characters per UTF-8 byte)
MAX_FILE_NAME_CHARS = 192
#: punctuation allowed in a student id (besides letters and digits of any script, NFC)
ID_PUNCTUATION = "._@+-"


class Refused(Exception):
    """A submitted path that is not the student's own regular file; ``str()`` is the reason (safe to show)."""


class TooLarge(Refused):
    """A submitted file over the size limit; ``size`` is what was seen (bytes)."""

    def __init__(self, size: int):
        super().__init__("the file is too large")
        self.size = size


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def check_real_folder(folder: Path) -> None:
    """Raise :class:`Refused` unless ``folder`` (absolute) is reached without any symbolic link.

    Args:
        folder: an absolute path whose every component must be a real folder.
    """
    folder = Path(os.path.abspath(folder))
    if os.path.realpath(folder) != str(folder):
        raise Refused("refused: the folder holding your notebook is a symbolic link "
                      "(only your own regular files are graded)")


def read_submitted(path: Path, max_bytes: int) -> bytes:
    """The bytes of a submitted file, if it is a regular file of the student's own.

    Args:
        path: the file; its folder must be given as an absolute path without symbolic links
            (e.g. ``Submission.folder`` from ``autograder grade``'s discovery, which resolves the
            instructor's path once).
        max_bytes: larger files are refused (checked on the descriptor, and again while reading).

    Returns:
        The file's content.

    Raises:
        FileNotFoundError: nothing at ``path`` (the notebook was not submitted).
        Refused: anything else that cannot be graded; ``str(exc)`` is the reason for the student.
    """
    path = Path(os.path.abspath(path))
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise Refused(f"refused: the file could not be read ({exc.strerror or 'error'})") from None
    if not stat.S_ISREG(st.st_mode):  # never open a FIFO, device or socket, never follow a link
        raise Refused(f"refused: {_kind(st.st_mode)}, not a regular file (only your own regular files are graded)")
    check_real_folder(path.parent)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Refused("refused: a symbolic link, not a regular file "
                          "(only your own regular files are graded)") from None
        if exc.errno == errno.ENOENT:
            raise FileNotFoundError(str(path)) from None
        raise Refused(f"refused: the file could not be read ({exc.strerror or 'error'})") from None
    try:
        st = os.fstat(fd)  # what was opened, whatever the name points to now
        if not stat.S_ISREG(st.st_mode):
            raise Refused(f"refused: {_kind(st.st_mode)}, not a regular file "
                          "(only your own regular files are graded)")
        if st.st_size > max_bytes:
            raise TooLarge(st.st_size)
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise TooLarge(total)
        return b"".join(chunks)
    except OSError as exc:
        raise Refused(f"refused: the file could not be read ({exc.strerror or 'error'})") from None
    finally:
        os.close(fd)


def student_id_problem(name) -> str | None:
    """Why ``name`` cannot be a student id, or None if it can.

    A student id is 1 to :data:`MAX_ID_CHARS` characters, letters and digits (any script, in
    Unicode normal form NFC) and ``._@+-``, starting with a letter, a digit or ``_``. So no ``/``,
    no ``..``, no hidden (dot) names, no spaces, no control characters, no lone surrogates
    (undecodable bytes in a folder name).

    Args:
        name: the candidate (a folder name, or ``--student``).

    Returns:
        None, or a short reason (without echoing the name).
    """
    if not isinstance(name, str) or not name:
        return "an empty student id"
    if len(name) > MAX_ID_CHARS:
        return f"a student id longer than {MAX_ID_CHARS} characters"
    if any("\ud800" <= ch <= "\udfff" for ch in name):
        return "a student id that is not valid UTF-8"
    if not (name[0].isalnum() or name[0] == "_"):
        return "a student id must start with a letter, a digit or _"
    if any(not (ch.isalnum() or ch in ID_PUNCTUATION or ch == "_") for ch in name):
        return "a student id may hold only letters, digits and . _ @ + -"
    if unicodedata.normalize("NFC", name) != name:
        return "a student id not in Unicode normal form (NFC)"
    if sum(1 if ch.isascii() else 3 * len(ch.encode("utf-8")) for ch in name) > MAX_FILE_NAME_CHARS:
        return "a student id too long for a file name"  # reports percent-encode non-ASCII letters
    return None


def printable(text, limit: int | None = None) -> str:
    """``text`` as a string any UTF-8 writer accepts: lone surrogates escaped (``\\udcff``).

    Args:
        text: any string (other values are turned into one with ``str``).
        limit: cut to this many characters (with ``...``), if given.

    Returns:
        A string without lone surrogates.
    """
    if not isinstance(text, str):
        text = str(text)
    if limit is not None and len(text) > limit:
        text = text[:limit] + "..."
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def shown_name(name, limit: int = 80) -> str:
    """A hostile name for the instructor's console or log: one line, ASCII, bounded (``ascii()``)."""
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    return ascii(str(name)[:limit])


def clean(value):
    """A copy of a JSON-like value (plain dicts and lists) with every string, keys too, made :func:`printable`."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value
