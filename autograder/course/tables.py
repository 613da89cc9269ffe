"""Small CSV files an instructor gives (rosters, extensions): bounded in size, UTF-8 with or without a BOM.

Standard library only (the pull loop reads rosters with it before any dependency is installed).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from autograder.course import CourseError

MAX_BYTES = 10 * 2**20


def read_csv(path: Path, label: str, noun: str, max_bytes: int = MAX_BYTES) -> list[list[str]]:
    """The rows of a CSV file (header included), or a one-line :class:`CourseError`.

    Args:
        path: the file.
        label: what starts every error line (the path, or the option and the path).
        noun: how the messages name the file ("the roster", "it").
        max_bytes: larger files are refused before they are parsed.

    Returns:
        Every row as a list of strings (``csv.reader``'s rows).
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise CourseError(f"{label}: cannot read {noun} ({exc.strerror or exc})") from None
    if len(raw) > max_bytes:
        raise CourseError(f"{label}: {noun} is larger than {max_bytes // 2**20} MiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CourseError(f"{label}: {noun} is not UTF-8 text") from None
    return list(csv.reader(io.StringIO(text, newline="")))
