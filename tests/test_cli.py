"""The command line: check, grade errors, student template, demo, workflows."""

from __future__ import annotations

import importlib
import json
import re
import shlex
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from autograder import cli, report
from autograder.commands import check, student_template
from autograder.course import submissions

from .conftest import release_nb, source_nb
from .helpers import ROOT


def _autograder(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def two_notebooks(course, tmp_path_factory):
    folder = tmp_path_factory.mktemp("check")
    rel = release_nb(course, "exam22", "lstm_params")
    submissions.write(submissions.solved(rel, source_nb(course, "exam22", "lstm_params")), folder / "solved.ipynb")
    submissions.write(rel, folder / "stub.ipynb")
    return folder


def test_check_passes_a_solved_notebook(two_notebooks, capsys):
    assert check.main([str(two_notebooks / "solved.ipynb")]) == 0
    out = capsys.readouterr().out
    assert "public tests 5/5 points [ok]" in out


def test_check_fails_the_stub_and_names_the_failing_tests(two_notebooks, capsys):
    assert check.main([str(two_notebooks / "stub.ipynb")]) == 1
    out = capsys.readouterr().out
    assert "public tests 0/5 points [FAILED]" in out
    assert "- test_rnn_param_count: NameError" in out or "- test_rnn_param_count: NotImplementedError" in out


def test_check_fail_on_broken_passes_failed_tests_but_not_broken_notebooks(two_notebooks, tmp_path, capsys):
    assert check.main([str(two_notebooks / "stub.ipynb")], fail_on="broken") == 0
    assert "public tests 0/5 points [FAILED]" in capsys.readouterr().out
    (tmp_path / "broken.ipynb").write_text("{not json")
    assert check.main([str(two_notebooks / "stub.ipynb"), str(tmp_path / "broken.ipynb")], fail_on="broken") == 1


def test_check_writes_the_job_summary(two_notebooks, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    check.main([str(two_notebooks)])
    text = summary.read_text()
    assert "| solved.ipynb | 5/5 |" in text and "| stub.ipynb | 0/5 |" in text


def test_check_reports_a_malformed_notebook(tmp_path, capsys):
    (tmp_path / "broken.ipynb").write_text("{not json")
    assert check.main([str(tmp_path / "broken.ipynb")]) == 1
    assert "cannot read the notebook" in capsys.readouterr().out


def test_check_rejects_bad_arguments(tmp_path, capsys):
    assert check.main([str(tmp_path / "nothing.ipynb")]) == 2
    assert "not a notebook" in capsys.readouterr().err
    with pytest.raises(check.NotANotebook, match="not a notebook"):   # the library call raises instead
        check.run([tmp_path / "nothing.ipynb"])
    with pytest.raises(check.NotANotebook, match="no notebooks given"):
        check.run(tmp_path)


@pytest.mark.parametrize("args,message", [
    (["grade", "submitted-nowhere", "--assignment", "exam22", "--out", "o"], "no such file or directory"),
    (["grade", "{empty}", "--assignment", "exam22", "--out", "o"], "no submissions of exam22"),
    (["grade", "{sub}", "--assignment", "nosuch", "--out", "o"], "no assignment 'nosuch'"),
    (["grade", "{sub}", "--assignment", "exam22", "--out", "o", "--shard", "3/2"], "--shard 3/2"),
    (["grade", "{sub}", "--assignment", "exam22", "--out", "o", "--jobs", "0"], "--jobs must be at least 1"),
    (["merge", "{empty}", "--out", "o"], "not the output of `autograder grade`"),
])
def test_grade_and_merge_explain_bad_input(course, tmp_path, args, message):
    empty = tmp_path / "empty"
    empty.mkdir()
    sub = tmp_path / "sub" / "alice" / "nosuch"
    sub.mkdir(parents=True)
    (sub / "x.ipynb").write_text("{}")
    (tmp_path / "sub" / "alice" / "exam22").mkdir()
    args = [a.replace("{empty}", str(empty)).replace("{sub}", str(tmp_path / "sub")) for a in args]
    proc = _autograder(*args, cwd=course)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_grade_outside_a_course_says_so(tmp_path):
    proc = _autograder("grade", str(tmp_path), "--assignment", "exam22", "--out", "o", cwd=tmp_path)
    assert proc.returncode == 2 and "no nbgrader_config.py" in proc.stderr


def test_student_template_holds_release_notebooks_and_a_working_check(course, tmp_path):
    dest = tmp_path / "student-repo"
    student_template.run("exam22", dest, root=course, echo=lambda m: None)
    names = sorted(p.name for p in dest.glob("*.ipynb"))
    assert names == sorted(p.name for p in (course / "release" / "exam22").glob("*.ipynb"))
    for p in dest.glob("*.ipynb"):
        assert p.read_text() == (course / "release" / "exam22" / p.name).read_text()
    everything = "\n".join(p.read_text() for p in dest.rglob("*") if p.is_file())
    assert "BEGIN HIDDEN" not in everything and "run_hidden" not in everything and "answer_key" not in everything
    workflow = yaml.safe_load((dest / ".github" / "workflows" / "check.yml").read_text())
    runs = [s.get("run", "") for s in workflow["jobs"]["public-tests"]["steps"]]
    assert any("python check.py --fail-on broken ./*.ipynb" in r for r in runs)
    # the workflow's command on the untouched stub: the public tests fail, the job does not
    proc = subprocess.run([sys.executable, "check.py", "--fail-on", "broken", "lstm_params.ipynb"], cwd=dest,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "0/5" in proc.stdout, proc.stdout + proc.stderr
    rel = release_nb(course, "exam22", "lstm_params")
    submissions.write(submissions.solved(rel, source_nb(course, "exam22", "lstm_params")), dest / "lstm_params.ipynb")
    proc = subprocess.run([sys.executable, "check.py", "lstm_params.ipynb"], cwd=dest, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5/5" in proc.stdout
    (dest / "lstm_params.ipynb").write_text("{not json")  # a broken notebook fails the job
    proc = subprocess.run([sys.executable, "check.py", "--fail-on", "broken", "lstm_params.ipynb"], cwd=dest,
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "cannot read the notebook" in proc.stdout, proc.stdout + proc.stderr
    proc = subprocess.run([sys.executable, "check.py", "--help"], cwd=dest, capture_output=True, text=True)
    assert proc.returncode == 0 and "--fail-on" in proc.stdout


def test_template_refuses_a_non_empty_folder(course, tmp_path):
    (tmp_path / "x").write_text("x")
    proc = _autograder("student-template", "exam22", str(tmp_path), cwd=course)
    assert proc.returncode == 2 and "not empty" in proc.stderr


def test_demo_releases_grades_and_prints_the_table(tmp_path):
    work = tmp_path / "demo"
    proc = _autograder("demo", "--workdir", str(work))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for student in ("ada", "bo", "cy", "dee"):
        assert re.search(rf"^{student}\s", out, flags=re.M), out
    assert "demo check: solution full marks, stub zero: OK" in out
    assert "[malformed]" in out
    assert "stock `nbgrader export` wrote 8 rows" in out
    # hints: cy has the first mutant of every task, and every mutant is in its task's catalogue
    reports = [json.loads(p.read_text()) for p in sorted(work.glob(f"out/*/{report.REPORTS}/*.json"))]
    by_student = {s: [r for r in reports if r["student"] == s] for s in ("ada", "cy")}
    assignments = [a for a in (work / "source").iterdir() if a.is_dir()]
    assert len(by_student["cy"]) == len(by_student["ada"]) == len(assignments), reports
    lost = [(r["assignment"], nb) for r in by_student["cy"] for nb in r["notebooks"] if nb["score"] < nb["max_score"]]
    assert lost, "cy (a mutant of every task) lost no points: see autograder/commands/demo.py"
    for assignment, nb in lost:
        task = nb["notebook"]
        catalogue = {m.id for m in importlib.import_module(f"autograder.tasks.{task}.misconceptions").MISCONCEPTIONS}
        named = [h["id"] for t in nb["tests"] if t["status"] == "failed" for h in t.get("hints") or []]
        assert named, (f"cy's {assignment}/{task} (the first mutant of tests/mutants/{task}.py) got no hint on a "
                       f"failed test: {nb['tests']}; the mutant must be named by "
                       f"autograder/tasks/{task}/misconceptions.py, and the hint search must run in `grade`")
        assert set(named) <= catalogue, (f"cy's {assignment}/{task} names {sorted(set(named) - catalogue)}, not in "
                                         f"autograder/tasks/{task}/misconceptions.py")
    ada_hints = [(r["assignment"], nb["notebook"], t["grade_id"]) for r in by_student["ada"] for nb in r["notebooks"]
                 for t in nb["tests"] if t.get("hints")]
    assert ada_hints == [], f"the full solution (ada) got hints: {ada_hints}; a probe matches correct code"
    # the page the demo's last line names: cy's, with the hint shown
    uri = out.strip().splitlines()[-1].strip()
    assert uri.startswith("file://"), out[-2000:]
    page = Path(urllib.request.url2pathname(urllib.parse.urlparse(uri).path))
    assert page.is_file() and page.resolve().is_relative_to((work / "out").resolve()) and "cy" in page.parts, page
    assert "Likely cause" in page.read_text(encoding="utf-8"), f"{page} shows no hint of cy's mistake"


# -- workflows ----------------------------------------------------------------------

WORKFLOWS = [*sorted((ROOT / ".github" / "workflows").glob("*.yml")),
             ROOT / "autograder" / "templates" / "student_check.yml"]


def _steps(doc):
    for job in doc["jobs"].values():
        yield from job.get("steps", [])


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_parses_and_every_step_is_well_formed(path):
    doc = yaml.safe_load(path.read_text())
    assert doc.get("name") and doc.get(True, doc.get("on")) and doc["jobs"]
    for job in doc["jobs"].values():
        assert job.get("runs-on") == "ubuntu-latest"
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), step


def test_workflow_commands_exist():
    verbs = set(cli.VERBS)
    seen = set()
    for path in WORKFLOWS:
        for step in _steps(yaml.safe_load(path.read_text())):
            for line in step.get("run", "").splitlines():
                for match in re.finditer(r"\bautograder ([a-z-]+)", line):
                    assert match.group(1) in verbs, line
                    seen.add(match.group(1))
                if "make " in line:
                    target = shlex.split(line.split("make ", 1)[1])[0]
                    assert re.search(rf"^{target}:", (ROOT / "Makefile").read_text(), flags=re.M), line
    assert {"grade", "merge"} <= seen


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / ".github" / "workflows" / "ci.yml").read_text()


def test_check_through_the_command_line(two_notebooks):
    assert _autograder("check", str(two_notebooks / "solved.ipynb")).returncode == 0
    proc = _autograder("check", str(two_notebooks / "stub.ipynb"))
    assert proc.returncode == 1 and "public tests 0/5 points [FAILED]" in proc.stdout


def test_grade_takes_one_students_folder_or_a_folder_of_notebooks(course, submitted, official, tmp_path):
    from autograder.commands import grade

    one = grade.run(submitted / "solution", "backprop", tmp_path / "one", root=course, echo=lambda m: None,
                    gradebook=False)
    assert [r["student"] for r in one] == ["solution"]
    assert one[0]["score"] == official["backprop"]["solution"]["score"] == one[0]["max_score"]
    bare = grade.run(submitted / "stub" / "backprop", "backprop", tmp_path / "bare", student="zoe", root=course,
                     echo=lambda m: None, gradebook=False)
    assert [r["student"] for r in bare] == ["zoe"] and bare[0]["score"] == 0
    assert len(bare[0]["notebooks"]) == len(official["backprop"]["stub"]["notebooks"])
