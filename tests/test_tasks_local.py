"""Every task's checks, run in-process: fast claims about the checks themselves.

The same claims are proven again end to end (nbgrader and `autograder grade`)
in test_grading.py; these run in seconds and name the task and check at fault.
Every rule's failure message says what to do (docs/authoring.md lists the rules).
"""

import pytest

from autograder.course import notebooks
from autograder.grading.checking import checks_of
from autograder.tasks import load

from .helpers import mutants_of, run_checks_locally, source_notebooks, stub_notebook

TASKS = sorted(source_notebooks())
MUTANTS = [(task, name) for task in TASKS for name in mutants_of(task)]


@pytest.mark.parametrize("task", TASKS)
def test_every_test_cell_has_a_check_and_every_check_a_cell(task):
    nb = notebooks.read(source_notebooks()[task])
    cells = {notebooks.nbgrader_meta(c)["grade_id"] for c in nb.cells if notebooks.is_test_cell(c)}
    checks = set(checks_of(load(task)))
    assert not cells - checks, (
        f"test cells of source/.../{task}.ipynb without a check: {sorted(cells - checks)}; write a function of "
        f"that name, decorated with @check, in autograder/tasks/{task}/checks.py (or fix the cell's grade_id)")
    assert not checks - cells, (
        f"checks of autograder/tasks/{task}/checks.py without a test cell: {sorted(checks - cells)}; add a test "
        "cell (notebooks.tests(...)) whose grade_id is the check's name, or remove the check")


@pytest.mark.parametrize("task", TASKS)
def test_solution_passes_every_check(task):
    results = run_checks_locally(task, notebooks.read(source_notebooks()[task]))
    failed = {k: v for k, v in results.items() if v}
    assert failed == {}, (
        f"the solution in source/.../{task}.ipynb fails these checks: {failed}; fix the solution cells "
        f"or the check (autograder/tasks/{task}/checks.py) or its key entry (key.toml)")


@pytest.mark.parametrize("task", TASKS)
def test_stub_fails_every_check(task):
    results = run_checks_locally(task, stub_notebook(source_notebooks()[task]))
    passed = [k for k, v in results.items() if v is None]
    assert passed == [], (
        f"the untouched stub of {task} passes {passed}: such a check pays for nothing; make it call the "
        "student's code (student.call / student.new) and compare with a reference")


@pytest.mark.parametrize("task", TASKS)
def test_task_has_at_least_three_mutants(task):
    count = len(mutants_of(task))
    assert count >= 3, (
        f"{task} has {count} mutant(s), the suite wants at least 3: add known-wrong implementations (typical "
        f"student mistakes) to MUTANTS in tests/mutants/{task}.py, each with the cells it replaces and the "
        "checks it fails")


@pytest.mark.parametrize("task,mutant", MUTANTS)
def test_mutant_fails_exactly_its_checks(task, mutant):
    spec = mutants_of(task)[mutant]
    results = run_checks_locally(task, notebooks.read(source_notebooks()[task]), replace=spec["cells"])
    failed = sorted(k for k, v in results.items() if v)
    expected = sorted(spec["fails"])
    assert failed == expected, (
        f"mutant {mutant!r} of tests/mutants/{task}.py fails {failed} but lists {expected}: make its 'fails' "
        f"list exact, or, if a check lets the mistake through, make that check catch it ({results})")
