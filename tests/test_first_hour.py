"""The first hour of a new instructor (issue 10): what broke or confused a trial run stays fixed.

* locked and test cells stay locked in the release (JupyterLab's ``editable``/``deletable``);
* no warning on the console from nbgrader (configuration) or from ``check`` (kernel);
* the demo keeps its folder and points at one feedback page;
* Python 3.10 (the oldest supported) parses the package and reads the answer key with ``tomli``;
* ``autograder new-task`` writes a skeleton that passes the structural tests and fails the rest;
* the notebooks' public text cites no equation of a document students do not have.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder import course
from autograder.commands import demo, new_task
from autograder.course import CourseError, notebooks

from .helpers import ROOT

PY310 = Path("/root/.pyenv/versions/3.10.13/bin/python3.10")


def _autograder(*args, cwd=ROOT, env=None):
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], cwd=cwd, capture_output=True,
                          text=True, env=env)


# -- locked cells ------------------------------------------------------------------------------------------------

def test_every_locked_and_test_cell_of_the_release_is_locked_in_jupyter():
    paths = sorted((ROOT / "release").rglob("*.ipynb"))
    assert paths
    seen = 0
    for path in paths:
        for cell in notebooks.read(path).cells:
            meta = notebooks.nbgrader_meta(cell)
            if meta.get("locked") or notebooks.is_test_cell(cell):
                seen += 1
                assert cell.metadata.get("editable") is False and cell.metadata.get("deletable") is False, (
                    f"{path.relative_to(ROOT)}: cell {meta.get('grade_id')} can be edited or deleted in JupyterLab; "
                    "run `.venv/bin/autograder generate`")
            elif meta.get("solution"):
                assert cell.metadata.get("deletable") is False and "editable" not in cell.metadata, path
            else:
                assert "editable" not in cell.metadata and "deletable" not in cell.metadata, path
    assert seen >= 20


def test_normalize_keeps_lock_flags_only_on_nbgrader_cells():
    cells = [notebooks.locked("x = 1", "data"), notebooks.code("y = 2")]
    for cell in cells:
        cell.metadata.update({"editable": False, "deletable": False, "collapsed": True, "tags": ["t"]})
    nb = notebooks.new_notebook(cells)   # normalises
    assert dict(nb.cells[0].metadata) == {"nbgrader": dict(notebooks.nbgrader_meta(cells[0])), "editable": False,
                                          "deletable": False}
    assert dict(nb.cells[1].metadata) == {}
    # a source notebook (no flags) stays editable: the instructor edits test cells there
    for path in (ROOT / "source").rglob("*.ipynb"):
        assert all("editable" not in c.metadata for c in notebooks.read(path).cells), path


# -- warnings ----------------------------------------------------------------------------------------------------

def test_check_of_a_solved_notebook_prints_no_warning(tmp_path):
    shutil.copy2(ROOT / "solutions" / "exam22" / "lstm_params.ipynb", tmp_path / "lstm_params.ipynb")
    proc = _autograder("check", "lstm_params.ipynb", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "public tests 5/5 points [ok]" in proc.stdout
    assert proc.stderr == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lstm_params.ipynb"]  # no kernel files left behind


def test_nbgrader_reads_the_course_configuration_without_warnings(tmp_path):
    shutil.copy2(ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    shutil.copytree(ROOT / "source" / "exam22", tmp_path / "source" / "exam22",
                    ignore=lambda d, names: [n for n in names if n != "lstm_params.ipynb"])
    proc = course.nbgrader_command(tmp_path, "generate_assignment", "exam22", "--force")
    warnings = [line for line in (proc.stdout + proc.stderr).splitlines() if "WARNING" in line]
    assert warnings == []
    assert (tmp_path / "gradebook.db").is_file() and (tmp_path / "release" / "exam22" / "lstm_params.ipynb").is_file()


# -- the demo ------------------------------------------------------------------------------------------------------

def test_demo_folder_is_git_ignored_and_refused_when_not_the_demos(tmp_path):
    assert f"/{demo.DEMO_DIR}/" in (ROOT / ".gitignore").read_text().splitlines()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep me")
    proc = _autograder("demo", "--workdir", str(tmp_path / "mine"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "was not made by the demo" in proc.stderr
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "keep me"


def test_demo_replaces_only_its_own_folder(tmp_path):
    work = tmp_path / "demo"
    demo._fresh_workdir(work)
    (work / "old-report.json").write_text("{}")
    demo._fresh_workdir(work)
    assert sorted(p.name for p in work.iterdir()) == [demo.MARKER]
    (tmp_path / "file").write_text("x")
    with pytest.raises(CourseError, match="is a file"):
        demo._fresh_workdir(tmp_path / "file")


def test_demo_points_at_the_page_of_a_task_cy_got_wrong(tmp_path):
    folder = tmp_path / "out" / "exam22" / "feedback" / "cy" / "exam22"
    folder.mkdir(parents=True)
    for name in ("bank_rnn", "batchnorm"):
        (folder / f"{name}.html").write_text("<html></html>")
    reports = [{"student": "ada", "assignment": "exam22", "notebooks": []},
               {"student": "cy", "assignment": "exam22",
                "notebooks": [{"notebook": "bank_rnn", "score": 7, "max_score": 7},
                              {"notebook": "batchnorm", "score": 0, "max_score": 10}]}]
    assert demo.feedback_page(tmp_path, reports) == folder / "batchnorm.html"
    assert demo.feedback_page(tmp_path, reports[:1]) is None


# -- Python 3.10 -----------------------------------------------------------------------------------------------------

def _package_files():
    return sorted((ROOT / "autograder").rglob("*.py")) + sorted((ROOT / "tests").rglob("*.py"))


def test_the_oldest_python_is_the_one_ci_and_ruff_test():
    text = (ROOT / "pyproject.toml").read_text()
    oldest = re.search(r'requires-python = ">=(3\.\d+)"', text).group(1)
    assert f'target-version = "py{oldest.replace(".", "")}"' in text
    ci = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    versions = ci["jobs"]["test"]["strategy"]["matrix"]["python"]
    assert oldest in versions and "3.12" in versions
    assert ci["permissions"] == {"contents": "read"}
    for step in ci["jobs"]["test"]["steps"]:
        if "uses" in step:
            assert re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", step["uses"]), f"pin {step['uses']} to a commit SHA"


def test_every_module_parses_as_python_3_10():
    for path in _package_files():
        ast.parse(path.read_text(), filename=str(path), feature_version=(3, 10))


@pytest.mark.skipif(not PY310.exists(), reason="no Python 3.10 interpreter on this machine")
def test_every_module_compiles_under_python_3_10():
    files = [str(p) for p in _package_files()]
    proc = subprocess.run([str(PY310), "-c", "import sys\n"
                           "for f in sys.argv[1:]:\n    compile(open(f, encoding='utf-8').read(), f, 'exec')",
                           *files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_the_answer_key_loads_with_tomli_when_tomllib_is_missing(tmp_path):
    """Python 3.10 has no tomllib: the key is read with tomli (a stand-in module here if tomli is absent)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    standin = tmp_path / "standin"
    standin.mkdir()
    (standin / "tomli.py").write_text("from _real_tomllib import *  # noqa\n")
    code = ("import importlib.util, sys\n"
            "try:\n"
            "    import tomllib\n"
            "    sys.modules['_real_tomllib'] = tomllib\n"
            "except ModuleNotFoundError:\n"            # Python 3.10: no tomllib, the real tomli is installed
            "    pass\n"
            "if importlib.util.find_spec('tomli') is None:\n"  # 3.11+ without tomli: the same parser as tomli
            f"    sys.path.insert(0, {str(standin)!r})\n"
            "sys.modules['tomllib'] = None\n"          # `import tomllib` now raises ModuleNotFoundError
            "from autograder.tasks import answer_key\n"
            "assert answer_key.tomllib.__name__ == 'tomli', answer_key.tomllib\n"
            "print(answer_key.value('lstm_params', 'exam_two_layer_lstm'))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "156.0"


def test_make_refuses_a_python_older_than_3_10_in_one_line(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("no make")
    fake = tmp_path / "python3.9"
    fake.write_text("#!/bin/sh\nexit 1\n")   # as `python3.9 -c 'sys.exit(version < (3, 10))'` would
    fake.chmod(0o755)
    proc = subprocess.run(["make", "-C", str(ROOT), "test", f"PYTHON={fake}",
                           f"VENV={tmp_path / 'venv'}"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "older than Python 3.10" in proc.stdout + proc.stderr
    assert not (tmp_path / "venv").exists()


# -- a new task ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A scratch copy of the repository (package, tests, sources) with the task ``tiny_task`` scaffolded."""
    repo = tmp_path_factory.mktemp("repo")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("autograder", "tests", "source"):
        shutil.copytree(ROOT / name, repo / name, ignore=ignore)
    for name in ("nbgrader_config.py", "pyproject.toml"):
        shutil.copy2(ROOT / name, repo / name)
    proc = _autograder("new-task", "exam22", "tiny_task", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    return repo, proc.stdout


def test_new_task_writes_the_skeleton(scratch):
    repo, out = scratch
    for path in ("source/exam22/tiny_task.ipynb", "autograder/tasks/tiny_task/__init__.py",
                 "autograder/tasks/tiny_task/checks.py", "autograder/tasks/tiny_task/key.toml",
                 "tests/mutants/tiny_task.py", "tests/key/test_tiny_task.py"):
        assert (repo / path).is_file(), path
        assert path in out or path.endswith("__init__.py")
    nb = notebooks.read(repo / "source" / "exam22" / "tiny_task.ipynb")
    kinds = [(c.cell_type, notebooks.nbgrader_meta(c).get("grade_id")) for c in nb.cells]
    assert kinds == [("markdown", None), ("code", "tiny_task_data"), ("code", "tiny_task_solution"),
                     ("code", "test_tiny_task")]
    assert notebooks.nbgrader_meta(nb.cells[1])["locked"] and notebooks.nbgrader_meta(nb.cells[2])["solution"]
    assert 'run_hidden("tiny_task", "test_tiny_task", globals())' in nb.cells[3].source
    assert "next steps" in out and "test_task_has_at_least_three_mutants[tiny_task]" in out
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "autograder/tasks/tiny_task",
                           "tests/mutants/tiny_task.py", "tests/key/test_tiny_task.py"], cwd=repo,
                          capture_output=True, text=True)
    assert ruff.returncode == 0, ruff.stdout


def _pytest(repo, *args):
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", *args],
                          cwd=repo, capture_output=True, text=True)
    outcomes = dict(reversed(m) for m in re.findall(r"^(PASSED|FAILED|ERROR) (\S+)", proc.stdout, flags=re.M))
    return outcomes, proc.stdout


def test_the_skeleton_passes_the_structural_tests_and_fails_the_rest(scratch):
    repo, _ = scratch
    probe = subprocess.run([sys.executable, "-c", "import autograder; print(autograder.__file__)"], cwd=repo,
                           capture_output=True, text=True)
    assert probe.stdout.strip() == str(repo / "autograder" / "__init__.py")   # the scratch copy is under test
    outcomes, out = _pytest(repo, "tests/test_tasks_local.py", "tests/test_checks_audit.py",
                            "tests/test_repository.py", "tests/key/test_tiny_task.py", "tests/test_hints.py",
                            "-k", "tiny_task or every_task_has or (normalised and source) or outside_implementations")
    hints_ = "tests/test_hints.py::"
    assert outcomes.pop(f"{hints_}test_catalogue_is_sound_and_large_enough[tiny_task]") == "FAILED"
    assert "misconceptions.py has 1 misconception(s), the suite wants at least 4" in out
    assert outcomes.pop(f"{hints_}test_two_outside_implementations_per_task") == "FAILED"
    assert "two wrong implementations of ['tiny_task']" in out
    for name in ("test_every_mutant_maps_to_the_catalogue_and_back[tiny_task]",
                 "test_mutant_is_named_on_a_failed_test[tiny_task-identity]",
                 "test_solution_matches_no_probe_even_when_forced[tiny_task]",
                 "test_noisy_solution_matches_no_probe[tiny_task]",
                 "test_search_on_correct_code_names_nothing[tiny_task]"):
        assert outcomes.pop(hints_ + name) == "PASSED", out[-3000:]
    local = "tests/test_tasks_local.py::"
    assert outcomes.pop(f"{local}test_task_has_at_least_three_mutants[tiny_task]") == "FAILED"
    assert "tiny_task has 1 mutant(s), the suite wants at least 3" in out
    assert outcomes.pop("tests/key/test_tiny_task.py::test_example") == "FAILED"
    assert "confirm the key entry `example` by an independent computation" in out
    assert outcomes.pop("tests/test_repository.py::test_release_holds_no_solution_and_no_hidden_test[tiny_task]") \
        == "FAILED"    # until `autograder generate exam22`
    for name in ("test_every_test_cell_has_a_check_and_every_check_a_cell[tiny_task]",
                 "test_solution_passes_every_check[tiny_task]", "test_stub_fails_every_check[tiny_task]",
                 "test_mutant_fails_exactly_its_checks[tiny_task-identity]"):
        assert outcomes.pop(local + name) == "PASSED", out[-3000:]
    for name in ("test_answer_key_entries_name_their_source[tiny_task]",
                 "test_every_task_has_checks_key_mutants_and_key_tests",
                 "test_notebooks_are_normalised_without_outputs[source]"):
        assert outcomes.pop("tests/test_repository.py::" + name) == "PASSED", out[-3000:]
    # the audit: no check of the skeleton pays a constant, zeros or answers to fixed inputs only
    audit = {k: v for k, v in outcomes.items() if k.startswith("tests/test_checks_audit.py::") and "tiny_task" in k}
    assert set(audit.values()) <= {"PASSED"}
    if (ROOT / "tests" / "test_checks_audit.py").is_file():
        assert audit, "the audit covers every task, the skeleton's too"


@pytest.mark.parametrize("args,message", [
    (("exam22", "tiny_task"), "task 'tiny_task' exists already"),
    (("backprop", "tiny_task"), "task 'tiny_task' exists already"),
    (("exam22", "batchnorm"), "task 'batchnorm' exists already"),
    (("exam22", "Bad-Name"), "bad task name 'Bad-Name'"),
    (("exam22", "class"), "bad task name 'class'"),
    (("exam22", "answer_key"), "bad task name 'answer_key'"),
    (("../x", "fine_name"), "bad assignment name '../x'"),
])
def test_new_task_refuses_in_one_line(scratch, args, message):
    repo, _ = scratch
    before = sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if "__pycache__" not in p.parts)
    proc = _autograder("new-task", *args, cwd=repo)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    after = sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if "__pycache__" not in p.parts)
    assert after == before


def test_new_task_in_a_new_assignment_says_to_list_it(tmp_path):
    for name in ("autograder/tasks", "tests/mutants", "tests/key", "source"):
        (tmp_path / name).mkdir(parents=True)
    lines = []
    paths = new_task.run("week3", "relu_layer", root=tmp_path, echo=lines.append)
    assert paths["notebook"] == tmp_path / "source" / "week3" / "relu_layer.ipynb"
    assert any("add 'week3' to ASSIGNMENTS in tests/helpers.py" in line for line in lines)
    assert json.loads(paths["notebook"].read_text())["cells"][3]["metadata"]["nbgrader"]["points"] == 1


# -- the notebooks' text -----------------------------------------------------------------------------------------------

def test_public_text_cites_no_equation_of_the_exam_document():
    for path in sorted((ROOT / "release").rglob("*.ipynb")):
        for cell in notebooks.read(path).cells:
            assert not re.search(r"\beqs?\.\s*\(?\d", cell.source, flags=re.I), (path.name, cell.source[:200])


def test_batchnorm_and_retrieval_texts_say_what_the_tests_do():
    batchnorm = (ROOT / "release" / "exam22" / "batchnorm.ipynb").read_text()
    assert "two columns of dh" not in batchnorm and "every column of dh sums to zero" in batchnorm
    retrieval = (ROOT / "release" / "exam22" / "retrieval_ap.ipynb").read_text()
    assert "item 1 (relevant)" not in retrieval and "X1..X4" not in retrieval
