"""One module per task: ``autograder/tasks/<task>.py``, named after its notebook.

Each check is a function marked with :func:`autograder.checking.check`, named
as the ``grade_id`` of the test cell it grades.
"""

import importlib


def load(task: str):
    return importlib.import_module(f"{__name__}.{task}")
