"""Claims about the committed repository: release/ and solutions/ are in sync and leak nothing."""

from __future__ import annotations

import re
import shutil

import pytest

from autograder.commands import generate
from autograder.course import notebooks
from autograder.tasks import answer_key

from .helpers import ASSIGNMENTS, ROOT, source_notebooks

TASKS = sorted(source_notebooks())
SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def _solution_lines(nb) -> set[str]:
    """Distinctive lines of the solution regions (what must never reach students)."""
    lines, inside = set(), False
    for cell in nb.cells:
        for line in cell.source.splitlines():
            s = line.strip()
            if s == "### BEGIN SOLUTION":
                inside = True
            elif s == "### END SOLUTION":
                inside = False
            elif inside and len(s) >= 12 and not s.startswith("#") and s not in ('"""', "return out"):
                lines.add(s)
    return lines


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    """release/ and solutions/ generated afresh from source/ in a scratch copy."""
    work = tmp_path_factory.mktemp("regen")
    shutil.copy2(ROOT / "nbgrader_config.py", work / "nbgrader_config.py")
    shutil.copytree(ROOT / "source", work / "source")
    generate.run(None, root=work, echo=lambda m: None)
    return work


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_equals_a_fresh_generation(regenerated, assignment):
    committed = sorted(p.name for p in (ROOT / "release" / assignment).glob("*.ipynb"))
    fresh = sorted(p.name for p in (regenerated / "release" / assignment).glob("*.ipynb"))
    assert committed == fresh, (
        f"release/{assignment}/ holds {committed}, a fresh generation {fresh}: run "
        f"`.venv/bin/autograder generate {assignment}` (and `git rm` notebooks whose source is gone)")
    for name in fresh:
        assert (ROOT / "release" / assignment / name).read_text() == \
            (regenerated / "release" / assignment / name).read_text(), (
                f"release/{assignment}/{name} is stale: run `.venv/bin/autograder generate {assignment}` and commit it")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_equal_a_fresh_generation_and_show_their_plots(regenerated, assignment):
    for path in sorted((regenerated / "solutions" / assignment).glob("*.ipynb")):
        fresh = notebooks.read(path)
        committed = notebooks.read(ROOT / "solutions" / assignment / path.name)
        assert [c.source for c in committed.cells] == [c.source for c in fresh.cells], (
            f"solutions/{assignment}/{path.name} is stale: run `.venv/bin/autograder generate {assignment}`")
        outputs = [o for c in committed.cells if c.cell_type == "code" for o in c.outputs]
        assert not any(o.output_type == "error" for o in outputs), (
            f"solutions/{assignment}/{path.name} has an error output: the solution raises when executed; fix "
            f"source/{assignment}/{path.name} and run `.venv/bin/autograder generate {assignment}`")
        if "plt." in "".join(c.source for c in committed.cells):
            assert any("image/png" in o.get("data", {}) for o in outputs), (
                f"solutions/{assignment}/{path.name} shows no plot: call plt.show() (never plt.savefig) and "
                f"run `.venv/bin/autograder generate {assignment}`")


@pytest.mark.parametrize("task", TASKS)
def test_release_holds_no_solution_and_no_hidden_test(task):
    src = notebooks.read(source_notebooks()[task])
    release_path = ROOT / "release" / source_notebooks()[task].parent.name / f"{task}.ipynb"
    text = release_path.read_text()
    for marker in SOLUTION_MARKERS:
        assert marker not in text, (
            f"{release_path.relative_to(ROOT)} holds {marker!r}: a marker is misspelt or unbalanced in the source "
            "(nbgrader removes only `### BEGIN/END SOLUTION` and `### BEGIN/END HIDDEN TESTS` pairs)")
    released = "\n".join(c.source for c in notebooks.read(release_path).cells)
    public = "\n".join(c.source for c in src.cells if not notebooks.nbgrader_meta(c).get("solution")
                       and not notebooks.is_test_cell(c))  # e.g. a formula the instructions show
    secret = _solution_lines(src) | notebooks.hidden_lines(src)
    leaked = [line for line in secret if line in released and line not in public]
    assert leaked == [], (
        f"{release_path.relative_to(ROOT)} shows lines of the solution or hidden tests: {leaked}; put them "
        "between the markers, or out of public cells")


def test_nothing_under_release_names_the_grader():
    for path in (ROOT / "release").rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "run_hidden" not in text and "autograder.incell" not in text, (
                f"{path.relative_to(ROOT)} names the grader: the call of run_hidden belongs between "
                "`### BEGIN HIDDEN TESTS` and `### END HIDDEN TESTS`")


@pytest.mark.parametrize("folder", ["source", "release"])
def test_notebooks_are_normalised_without_outputs(folder):
    paths = sorted((ROOT / folder).rglob("*.ipynb"))
    assert paths, f"{folder}/ holds no notebook"
    fix = ("run `.venv/bin/autograder generate`" if folder == "release" else
           "write it with autograder.course.notebooks.write(notebooks.normalize(nb), path), or clear its outputs "
           "and run `.venv/bin/autograder generate`")
    for path in paths:
        text = path.read_text()
        nb = notebooks.read(path)
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells
                   if c.cell_type == "code"), f"{path.relative_to(ROOT)} has outputs: {fix}"
        assert text == notebooks.dumps(notebooks.normalize(notebooks.read(path))), (
            f"{path.relative_to(ROOT)} is not normalised: {fix}")


@pytest.mark.parametrize("task", TASKS)
def test_answer_key_entries_name_their_source(task):
    key = answer_key.raw(task)
    assert key, f"autograder/tasks/{task}/key.toml is empty: add one [entry] per value a check uses"
    for name, entry in key.items():
        for field in ("document", "problem", "verified"):
            assert entry.get(field), (
                f"autograder/tasks/{task}/key.toml: [{name}] lacks {field}; every entry names its document, "
                "problem (and equation) and how it is verified (the test in tests/key/ that confirms it)")
        erratum = entry.get("erratum")
        if erratum is not None:
            for field in ("document_value", "correct_value", "reason"):
                assert erratum.get(field), (
                    f"autograder/tasks/{task}/key.toml: [{name}.erratum] lacks {field}; an erratum gives the "
                    "document's value, the correct one and why")


def test_every_task_has_checks_key_mutants_and_key_tests():
    hint = "(`autograder new-task ASSIGNMENT TASK` writes them all; see docs/authoring.md)"
    for task in TASKS:
        for path in (f"autograder/tasks/{task}/__init__.py", f"autograder/tasks/{task}/checks.py",
                     f"autograder/tasks/{task}/key.toml", f"tests/mutants/{task}.py", f"tests/key/test_{task}.py"):
            assert (ROOT / path).is_file(), f"the notebook of task {task} has no {path} {hint}"
        assert task in answer_key.tasks(), f"autograder/tasks/{task}/key.toml is not found by the answer key {hint}"


def test_zygote_never_imports_the_answer_key_or_checks():
    """The sandbox's warm process must not hold hidden material in memory."""
    code = (ROOT / "autograder" / "sandbox" / "zygote.py").read_text()
    imports = re.findall(r"^\s*(?:from|import) ([\w.]+)", code, flags=re.M)
    assert not any("answer_key" in i or "tasks" in i or "checking" in i for i in imports), (
        "autograder/sandbox/zygote.py imports the answer key, a task or the checks: student code would share "
        "that memory; move the import to the grading side")
