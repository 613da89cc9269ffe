"""Every task's checks, run in-process: fast claims about the checks themselves.

The same claims are proven again end to end (nbgrader and `autograder grade`)
in test_grading.py; these run in seconds and name the task and check at fault.
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
    assert cells == set(checks_of(load(task)))


@pytest.mark.parametrize("task", TASKS)
def test_solution_passes_every_check(task):
    results = run_checks_locally(task, notebooks.read(source_notebooks()[task]))
    assert {k: v for k, v in results.items() if v} == {}


@pytest.mark.parametrize("task", TASKS)
def test_stub_fails_every_check(task):
    results = run_checks_locally(task, stub_notebook(source_notebooks()[task]))
    assert [k for k, v in results.items() if v is None] == []


@pytest.mark.parametrize("task", TASKS)
def test_task_has_at_least_three_mutants(task):
    assert len(mutants_of(task)) >= 3


@pytest.mark.parametrize("task,mutant", MUTANTS)
def test_mutant_fails_exactly_its_checks(task, mutant):
    spec = mutants_of(task)[mutant]
    results = run_checks_locally(task, notebooks.read(source_notebooks()[task]), replace=spec["cells"])
    failed = sorted(k for k, v in results.items() if v)
    assert failed == sorted(spec["fails"]), results
