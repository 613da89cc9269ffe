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
    assert committed == fresh
    for name in fresh:
        assert (ROOT / "release" / assignment / name).read_text() == \
            (regenerated / "release" / assignment / name).read_text(), f"release/{assignment}/{name} is stale"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_equal_a_fresh_generation_and_show_their_plots(regenerated, assignment):
    for path in sorted((regenerated / "solutions" / assignment).glob("*.ipynb")):
        fresh = notebooks.read(path)
        committed = notebooks.read(ROOT / "solutions" / assignment / path.name)
        assert [c.source for c in committed.cells] == [c.source for c in fresh.cells], f"solutions/{path.name} is stale"
        outputs = [o for c in committed.cells if c.cell_type == "code" for o in c.outputs]
        assert not any(o.output_type == "error" for o in outputs), f"solutions/{path.name} has an error output"
        if "plt." in "".join(c.source for c in committed.cells):
            assert any("image/png" in o.get("data", {}) for o in outputs), f"solutions/{path.name} shows no plot"


@pytest.mark.parametrize("task", TASKS)
def test_release_holds_no_solution_and_no_hidden_test(task):
    src = notebooks.read(source_notebooks()[task])
    release_path = ROOT / "release" / source_notebooks()[task].parent.name / f"{task}.ipynb"
    text = release_path.read_text()
    for marker in SOLUTION_MARKERS:
        assert marker not in text
    released = "\n".join(c.source for c in notebooks.read(release_path).cells)
    public = "\n".join(c.source for c in src.cells if not notebooks.nbgrader_meta(c).get("solution")
                       and not notebooks.is_test_cell(c))  # e.g. a formula the instructions show
    secret = _solution_lines(src) | notebooks.hidden_lines(src)
    leaked = [line for line in secret if line in released and line not in public]
    assert leaked == []


def test_nothing_under_release_names_the_grader():
    for path in (ROOT / "release").rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "run_hidden" not in text and "autograder.incell" not in text, path


@pytest.mark.parametrize("folder", ["source", "release"])
def test_notebooks_are_normalised_without_outputs(folder):
    paths = sorted((ROOT / folder).rglob("*.ipynb"))
    assert paths
    for path in paths:
        text = path.read_text()
        nb = notebooks.read(path)
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
        assert text == notebooks.dumps(notebooks.normalize(notebooks.read(path))), f"{path} is not normalised"


@pytest.mark.parametrize("task", TASKS)
def test_answer_key_entries_name_their_source(task):
    key = answer_key.raw(task)
    assert key, f"autograder/tasks/{task}/key.toml is empty"
    for name, entry in key.items():
        for field in ("document", "problem", "verified"):
            assert entry.get(field), f"{task}.{name} lacks {field}"
        erratum = entry.get("erratum")
        if erratum is not None:
            for field in ("document_value", "correct_value", "reason"):
                assert erratum.get(field), f"{task}.{name}.erratum lacks {field}"


def test_every_task_has_checks_key_mutants_and_key_tests():
    for task in TASKS:
        assert (ROOT / "autograder" / "tasks" / task / "checks.py").is_file()
        assert task in answer_key.tasks()
        assert (ROOT / "tests" / "mutants" / f"{task}.py").is_file()
        assert (ROOT / "tests" / "key" / f"test_{task}.py").is_file()


def test_zygote_never_imports_the_answer_key_or_checks():
    """The sandbox's warm process must not hold hidden material in memory."""
    code = (ROOT / "autograder" / "sandbox" / "zygote.py").read_text()
    imports = re.findall(r"^\s*(?:from|import) ([\w.]+)", code, flags=re.M)
    assert not any("answer_key" in i or "tasks" in i or "checking" in i for i in imports)
