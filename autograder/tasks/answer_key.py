"""The answer key: one TOML file per task, ``autograder/tasks/<task>/key.toml``.

Every entry is a table with the value(s) a check uses and where they come
from::

    [forward_document]
    document = "dl1-final-exam-2022-solutions.hr.md"
    problem = "Zadatak 4"
    equation = "(66)-(67)"
    verified = "how an independent computation confirms it (the test that does)"
    input = [-1.0, 0.0, 1.0]
    value = [0.3132616875182228, 0.6931471805599453, 1.3132616875182228]

    [forward_document.erratum]       # only where the document is wrong
    document_value = "..."
    correct_value = "..."
    reason = "..."

Numeric lists come back as float64 arrays; everything else as it is.
The grader reads this; the student's process never can (see README, Security).
"""

from __future__ import annotations

import functools
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

import numpy as np

HERE = Path(__file__).parent
META = {"document", "problem", "equation", "verified", "erratum", "note"}


def _convert(value):
    if isinstance(value, list):
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return value
        return arr
    if isinstance(value, dict):
        return {k: (v if k in META else _convert(v)) for k, v in value.items()}
    return value


@functools.cache
def raw(task: str) -> dict:
    path = HERE / task / "key.toml"
    if not path.is_file():
        raise KeyError(f"no answer key for task {task!r} ({path})")
    with path.open("rb") as fh:
        return tomllib.load(fh)


def entry(task: str, name: str) -> dict:
    """The entry ``name`` of ``task``'s key, numeric lists as float64 arrays."""
    table = raw(task)
    if name not in table:
        raise KeyError(f"answer key {task}.toml has no entry {name!r}")
    return _convert(table[name])


def value(task: str, name: str, field: str = "value"):
    return entry(task, name)[field]


def tasks() -> list[str]:
    return sorted(p.parent.name for p in HERE.glob("*/key.toml"))
