"""``autograder new-task ASSIGNMENT TASK``: write the skeleton of a new task.

Writes, in the course root (and refuses if any of them exists already):

* ``source/<assignment>/<task>.ipynb``: an instructions cell, one locked cell
  (provided data), one solution cell and one test cell (public assertions, then
  a hidden part that calls ``run_hidden``);
* ``autograder/tasks/<task>/``: ``__init__.py``, ``checks.py`` (one check, named
  as the test cell's ``grade_id``), ``key.toml`` (one entry naming its
  document, problem and how it is verified) and ``misconceptions.py`` (one
  known mistake, with its probe and hint);
* ``tests/mutants/<task>.py`` (one known-wrong implementation) and
  ``tests/key/test_<task>.py`` (the independent confirmation of the key).

The skeleton is a complete toy task (the student doubles an array) that passes
the suite's structural tests. Until it is filled in, these fail on purpose: a
task needs at least three mutants and four misconceptions, every key entry an
independent confirmation (the key test fails with a TODO), two wrong
implementations outside the catalogue (``OUTSIDE`` in ``tests/test_hints.py``),
and the release must be generated. ``docs/authoring.md`` walks through the rest.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from autograder import course
from autograder.course import notebooks

TASK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
ASSIGNMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
#: names taken by the tasks package itself, and by Python modules a task name would shadow
RESERVED = {"answer_key", "checks", "tasks", "test", "tests", "autograder", "numpy", "np"}

CHECKS = '''"""Checks of task {task} ({assignment}).

One check per autograded test cell of source/{assignment}/{task}.ipynb, named as
the cell's grade_id. A check runs in the grader; student.call(...) is a round trip
to the student's process. Messages are shown to students: never an expected value
or a hidden input. TODO: say where the task comes from.
"""

from __future__ import annotations

import numpy as np

from autograder.grading.checking import as_array, assert_close, check
from autograder.tasks.answer_key import value

TASK = "{task}"


def reference(x):
    """The grader's own implementation (TODO: replace the toy doubling)."""
    return 2.0 * np.asarray(x, dtype=np.float64)


@check
def test_{task}(student):
    # the cell's public assertion (in official grading the cell's own source is not run)
    x = value(TASK, "example", "input")
    assert_close(student.call("{task}", x), value(TASK, "example"), "{task}(X) on the notebook's X")
    # hidden: random inputs from student.rng (deterministic per check), other shapes
    for shape in [(1, 1), (4, 3), (7,)]:
        x = student.rng.normal(size=shape)
        out = as_array(student.call("{task}", x), "{task}(x)", shape=x.shape)
        assert_close(out, reference(x), f"{task}(x) for an input of shape {{x.shape}}")
'''

KEY = '''# Answer key of task {task} ({assignment}). Verified by tests/key/test_{task}.py.
# Every entry names its document, problem (and equation) and how an independent
# computation confirms it; where the document is wrong, add an [<entry>.erratum]
# table with document_value, correct_value and reason.

[example]
document = "TODO: the document the numbers come from"
problem = "TODO: the problem (and part) in it"
equation = "TODO: the equation number, if any"
verified = "tests/key/test_{task}.py::test_example (TODO: say how)"
input = [[1.0, -2.0], [3.0, 0.5]]
value = [[2.0, -4.0], [6.0, 1.0]]
'''

MUTANTS = '''"""Known-wrong implementations of task {task}: the mistakes students make.

Each mutant replaces solution cells (by grade_id) and lists exactly the checks
it fails (tests/test_tasks_local.py::test_mutant_fails_exactly_its_checks).
The suite wants at least three per task.
"""

MUTANTS = {{
    # TODO: the typical mistake, in one line
    "identity": {{
        "cells": {{
            "{task}_solution": (
                "def {task}(x):\\n"
                "    return x\\n"
            ),
        }},
        "fails": ["test_{task}"],
    }},
    # TODO: at least two more
}}
'''

MISCONCEPTIONS = '''"""Misconceptions of task {task}: the known wrong approaches, each with the probe that finds it.

When a check of the task fails, the grader runs the probes of that check. A probe calls
the student's code on inputs it draws from ``rng`` and is True only when the answer
matches the mistake's reference and not the correct one (``like``); the student then
reads the fixed ``text`` as "Likely cause". See :mod:`autograder.grading.hints`.
The suite wants at least four (six for a task of DESIGN_TASKS in tests/test_hints.py),
one that no mutant makes, and every mutant named in one.
"""

from __future__ import annotations

from autograder.grading.hints import Misconception, like
from autograder.tasks.{task}.checks import reference

CHECK = "test_{task}"


def _returns_its_input(student, rng):
    x = rng.normal(size=(3, 2))
    return like(student.call("{task}", x), x, reference(x))


MISCONCEPTIONS = [
    Misconception(
        id="returns_its_input",
        text="Your function returns its input unchanged (TODO: name the concept the student missed, no values).",
        checks=(CHECK,),
        probe=_returns_its_input,
        mutants=("identity",),
    ),
    # TODO: at least three more, one of them beyond the mutants
]
'''

KEY_TEST = '''"""Independent confirmation of autograder/tasks/{task}/key.toml."""

import numpy as np

from autograder.tasks.answer_key import value

TASK = "{task}"


def _independent(x):
    """TODO: the expected value of `example`, computed independently of checks.py
    (another library, finite differences, by hand)."""
    return None


def test_example():
    independent = _independent(value(TASK, "example", "input"))
    assert independent is not None, (
        "tests/key/test_{task}.py: confirm the key entry `example` by an independent computation"
    )
    np.testing.assert_allclose(value(TASK, "example"), independent, rtol=1e-12)
'''


def skeleton_notebook(task: str):
    """The source notebook of a new task: instructions, locked data, solution, test.

    Args:
        task: the task's name (the notebook's stem).

    Returns:
        A normalised nbformat notebook.
    """
    return notebooks.new_notebook([
        notebooks.markdown(f"""
# {task}

TODO: what the student writes, and why. State the shapes that come in and go out.

Write your code where it says `# YOUR CODE HERE`, then run the test cell below it.
"""),
        notebooks.locked("""
import numpy as np

# Provided data (a locked cell: it cannot be edited or deleted).
X = np.array([[1.0, -2.0], [3.0, 0.5]])
""", f"{task}_data"),
        notebooks.solution(f'''
def {task}(x):
    """TODO: what it computes.

    Args:
        x: array of any shape.

    Returns:
        array of the same shape.
    """
    ### BEGIN SOLUTION
    return 2.0 * np.asarray(x, dtype=float)
    ### END SOLUTION
''', f"{task}_solution"),
        notebooks.tests(f'''
out = {task}(X)
assert out.shape == X.shape, f"{task}(X) should keep the shape {{X.shape}}, got {{out.shape}}"
assert np.allclose(out, [[2.0, -4.0], [6.0, 1.0]]), "{task}(X) is not right on the provided X"
### BEGIN HIDDEN TESTS
from autograder.incell import run_hidden
run_hidden("{task}", "test_{task}", globals())
### END HIDDEN TESTS
''', f"test_{task}", 1),
    ])


def _validate(root: Path, assignment: str, task: str) -> dict[str, Path]:
    if not ASSIGNMENT_NAME.match(assignment):
        raise course.CourseError(f"bad assignment name {assignment!r}: use letters, digits, '_' or '-' "
                                 "(at most 40, starting with a letter or digit)")
    if not TASK_NAME.match(task) or keyword.iskeyword(task) or task in RESERVED or task.endswith("_"):
        raise course.CourseError(f"bad task name {task!r}: use lowercase letters, digits and '_' (a Python "
                                 "identifier, at most 40, starting with a letter), not a keyword or a module name")
    paths = {
        "notebook": root / "source" / assignment / f"{task}.ipynb",
        "task": root / "autograder" / "tasks" / task,
        "mutants": root / "tests" / "mutants" / f"{task}.py",
        "key test": root / "tests" / "key" / f"test_{task}.py",
    }
    taken = sorted((root / "source").glob(f"*/{task}.ipynb")) if (root / "source").is_dir() else []
    existing = [p for p in paths.values() if p.exists()] + [p for p in taken if p not in paths.values()]
    if existing:
        raise course.CourseError(f"task {task!r} exists already ({existing[0].relative_to(root)}): "
                                 "choose another name or edit it")
    for folder in (root / "autograder" / "tasks", root / "tests" / "mutants", root / "tests" / "key"):
        if not folder.is_dir():
            raise course.CourseError(f"{folder.relative_to(root)}/ does not exist: run this in the course repository")
    return paths


def run(assignment: str, task: str, *, root: Path | None = None, echo=print) -> dict[str, Path]:
    """Write the skeleton of ``task`` in ``assignment``; refuse (CourseError) a bad or existing name.

    Args:
        assignment: the assignment (a folder of ``source/``; created if new).
        task: the task's name: notebook stem, folder of ``autograder/tasks/`` and check module.
        root: the course root (default: found from the working directory).
        echo: where console lines go.

    Returns:
        What was written: ``{"notebook", "task", "mutants", "key test"}`` -> path.
    """
    root = (root or course.find_root()).resolve()
    paths = _validate(root, assignment, task)
    new_assignment = not (root / "source" / assignment).is_dir()
    fill = {"task": task, "assignment": assignment}
    notebooks.write(skeleton_notebook(task), paths["notebook"])
    paths["task"].mkdir(parents=True)
    (paths["task"] / "__init__.py").write_text(
        f'"""The task ``{task}``: its checks (``checks.py``) and answer key (``key.toml``)."""\n')
    (paths["task"] / "checks.py").write_text(CHECKS.format(**fill))
    (paths["task"] / "key.toml").write_text(KEY.format(**fill))
    (paths["task"] / "misconceptions.py").write_text(MISCONCEPTIONS.format(**fill))
    paths["mutants"].write_text(MUTANTS.format(**fill))
    paths["key test"].write_text(KEY_TEST.format(**fill))
    for path in (paths["notebook"], paths["task"] / "checks.py", paths["task"] / "key.toml",
                 paths["task"] / "misconceptions.py", paths["mutants"], paths["key test"]):
        echo(f"wrote {path.relative_to(root)}")
    steps = [
        f"edit source/{assignment}/{task}.ipynb (in JupyterLab): instructions, locked data, solution, "
        "public assertions; one test cell per check, its grade_id = the check's name",
        f"edit autograder/tasks/{task}/checks.py and key.toml (document, problem, equation, verified)",
        f"run the fast tests: .venv/bin/pytest -p no:cacheprovider tests/test_tasks_local.py -k {task}\n"
        f"they pass for the toy skeleton except test_task_has_at_least_three_mutants[{task}] "
        f"(add mutants to tests/mutants/{task}.py)",
        f"confirm every key entry in tests/key/test_{task}.py (until then test_example fails on purpose)",
        f"name the usual mistakes in autograder/tasks/{task}/misconceptions.py (at least four; until then "
        f"tests/test_hints.py's test_catalogue_is_sound_and_large_enough[{task}] fails on purpose) and add two "
        "wrong implementations that none explains to OUTSIDE in tests/test_hints.py",
        f"release: .venv/bin/autograder generate {assignment}  (until then test_repository.py's "
        "release and solutions tests fail), then commit source/, release/, solutions/",
        "before pushing: make test (test_grading.py grades the task end to end)",
    ]
    if new_assignment:
        steps.insert(0, f"a new assignment: add {assignment!r} to ASSIGNMENTS in tests/helpers.py "
                        "(the suite tests only the assignments listed there)")
    echo("\nnext steps (docs/authoring.md walks through them):")
    for i, step in enumerate(steps, 1):
        echo(f"  {i}. " + step.replace("\n", "\n     "))
    return paths


def add_arguments(p) -> None:
    p.add_argument("assignment", help="the assignment (a folder of source/; created if new), e.g. exam22")
    p.add_argument("task", help="the new task's name: lowercase letters, digits and '_', e.g. tanh_layer")


def from_args(args) -> int:
    run(args.assignment, args.task)
    return 0
