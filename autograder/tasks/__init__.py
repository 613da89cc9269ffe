"""One folder per task: ``autograder/tasks/<task>/``, named after its notebook.

Everything the grader knows about a task is in its folder:

* ``checks.py``: one check per autograded test cell, marked with
  :func:`autograder.grading.checking.check` and named as the cell's ``grade_id``;
* ``key.toml``: the task's expected values, their provenance and the documents'
  errata (read through :mod:`autograder.tasks.answer_key`);
* ``misconceptions.py``: the known wrong approaches, each with its hint and a
  reference implementation of the mistake (see :mod:`autograder.grading.hints`).

This wing sits above :mod:`autograder.grading` (checks are written with its
helpers) and below :mod:`autograder.commands`, which loads the checks and hands
them to the pipeline: the grading machinery never imports a task.
"""

from __future__ import annotations

import importlib
from pathlib import Path

HERE = Path(__file__).parent


def names() -> list[str]:
    """Every task that has a folder with a ``checks.py``."""
    return sorted(p.parent.name for p in HERE.glob("*/checks.py"))


def load(task: str):
    """The module ``autograder.tasks.<task>.checks``."""
    return importlib.import_module(f"{__name__}.{task}.checks")
