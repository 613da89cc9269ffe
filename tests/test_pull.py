"""The pull loop end to end: collect -> grade -> publish -> return, with real git and a local HTTP server.

Student repositories are bare repositories on disk (``file://``); the course
repository (``grades`` branch) too; GitHub's REST API is a local HTTP server on
127.0.0.1 that records what it is sent. Nothing reaches the network. The loop
runs three cycles on the scratch course of ``conftest.py`` (assignment
``backprop``), each on fresh folders (a fresh runner: only the ``grades`` branch
carries the record from one cycle to the next):

1. six students: on time, still on the stub, missing, notebooks symlinked into
   ``source/``, an oversized file, an empty repository;
2. the on-time student changes one notebook: only they are collected, graded and
   get a feedback commit;
3. nothing changes: 0 changed, nothing fetched, nothing graded (collect records the new tip
   of the feedback branch that cycle 2's return pushed: no change, but the record holds it);
4. nothing changes: the record is the same, publish makes no commit.

A fake token is in the environment of every command; it must appear nowhere.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from autograder import report
from autograder.commands import grade, student_template
from autograder.pull import collect as pull_collect
from autograder.pull import record as pull_record
from autograder.pull import roster as pull_roster
from autograder.pull.git import SAFE_CONFIG, Git, GitError

from .conftest import write_student
from .helpers import ROOT

A = "backprop"
ORG = "dl1"
TOKEN = "ghp_FAKEtoken0123456789abcdefXYZ"
SECRET_FORMS = [TOKEN, base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()]
STUDENTS = ["ontime", "stubby", "missing", "Linker", "bigfile", "empty"]


# -- helpers -----------------------------------------------------------------------

def sh(args, cwd=None, **kw) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "s", "GIT_AUTHOR_EMAIL": "s@x", "GIT_COMMITTER_NAME": "s",
           "GIT_COMMITTER_EMAIL": "s@x", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True, text=True, **kw).stdout


def push_tree(bare: Path, work: Path, message: str = "work", date: str | None = None) -> str:
    """Commit everything in ``work`` and push it to ``bare`` (main); return the commit."""
    if not (work / ".git").exists():
        sh(["git", "init", "-q", "-b", "main", str(work)])
    sh(["git", "add", "-A"], cwd=work)
    args = ["git", "-c", "core.symlinks=true", "commit", "-q", "-m", message]
    if date:
        args += ["--date", date]
    sh(args, cwd=work)
    sh(["git", "push", "-q", "-f", str(bare), "HEAD:refs/heads/main"], cwd=work)
    return sh(["git", "rev-parse", "HEAD"], cwd=work).strip()


def tip(bare: Path, branch: str) -> str | None:
    out = subprocess.run(["git", "rev-parse", "--verify", "-q", f"refs/heads/{branch}"], cwd=bare,
                         capture_output=True, text=True).stdout.strip()
    return out or None


def branch_files(bare: Path, branch: str) -> dict:
    names = sh(["git", "ls-tree", "-r", "--name-only", branch], cwd=bare).split("\n")
    return {n: subprocess.run(["git", "show", f"{branch}:{n}"], cwd=bare, capture_output=True).stdout
            for n in names if n}


class ProcessWatch:
    """Samples every process's command line (/proc/*/cmdline) while the loop runs."""

    def __init__(self):
        self.seen, self._stop = set(), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for p in Path("/proc").iterdir():
                if p.name.isdigit():
                    try:
                        self.seen.add((p / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace"))
                    except OSError:
                        pass
            time.sleep(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()


class Api(http.server.BaseHTTPRequestHandler):
    """GitHub's REST API for commit statuses (and a git host that always says 404), recording requests."""

    calls: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).calls.append(("POST", self.path, dict(self.headers), json.loads(body or b"null")))
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"id": 1}')

    def do_GET(self):  # noqa: N802
        type(self).calls.append(("GET", self.path, dict(self.headers), None))
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def api():
    Api.calls = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", Api.calls
    server.shutdown()
    server.server_close()


def cli(*args, cwd, check=True) -> subprocess.CompletedProcess:
    env = {**os.environ, "AUTOGRADER_GIT_TOKEN": TOKEN}
    env.pop("GITHUB_OUTPUT", None)
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"autograder {args[0]} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


# -- the loop ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def loop(course, tmp_path_factory, api):
    """Three cycles of the pull loop; returns everything the tests below look at."""
    api_url, calls = api
    base = tmp_path_factory.mktemp("pull")
    repos, work = base / "repos", base / "work"
    repos.mkdir()
    bares = {}
    for student in STUDENTS:
        if student == "missing":
            continue
        bare = repos / f"{A}-{student}.git"
        sh(["git", "init", "-q", "--bare", "-b", "main", str(bare)])
        bares[student] = bare
    # on time: every notebook solved; stubby: the release notebooks
    write_student(course, work / "solved", A, "ontime")
    first_sha = push_tree(bares["ontime"], work / "solved" / "ontime" / A, date="2001-01-01T00:00:00")  # forged date
    shutil.copytree(course / "release" / A, work / "stubby")
    push_tree(bares["stubby"], work / "stubby")
    # Linker: every notebook a symlink into the course's source/ (the solutions and hidden tests)
    (work / "linker").mkdir()
    for nb in sorted((course / "source" / A).glob("*.ipynb")):
        (work / "linker" / nb.name).symlink_to(nb)
    push_tree(bares["Linker"], work / "linker")
    # bigfile: solved notebooks and a 2 MiB file (limit: 1 MiB)
    write_student(course, work / "solved", A, "bigfile")
    (work / "solved" / "bigfile" / A / "data.bin").write_bytes(os.urandom(2 * 2**20))
    push_tree(bares["bigfile"], work / "solved" / "bigfile" / A)
    # the course repository (its grades branch is the record)
    course_bare = base / "course.git"
    sh(["git", "init", "-q", "--bare", "-b", "main", str(course_bare)])
    roster = base / "roster.csv"
    roster.write_text("student\n" + "\n".join(STUDENTS) + "\n")
    url = f"file://{repos}/{{assignment}}-{{student}}.git"
    pull_args = ["--org", ORG, "--url-template", url]
    result = {"first_sha": first_sha, "bares": bares, "course_bare": course_bare, "base": base, "outputs": [],
              "roster": roster, "calls": calls}

    def cycle(n: int, changes=None) -> dict:
        """A cycle on a fresh runner: restore the record from `grades`, collect, grade, return, publish."""
        run = base / f"cycle{n}"
        run.mkdir()
        if tip(course_bare, "grades"):
            sh(["git", "clone", "-q", "--depth", "1", "--branch", "grades", f"file://{course_bare}",
                str(run / "record")])
        else:
            (run / "record").mkdir()
        out = run / "record" / A
        before = {s: tip(b, "feedback") for s, b in bares.items()}
        got = {"out": out, "submitted": run / "submitted", "feedback_before": before}
        got["collect"] = cli("collect", roster, "--assignment", A, "--dest", run / "submitted", "--record", out,
                             "--max-repo-mb", "1", *pull_args, cwd=course)
        lines = []
        if (run / "submitted").is_dir():
            grade.run(run / "submitted", A, out, jobs=2, root=course, gradebook=False, echo=lines.append)
        got["grade"] = lines
        got["return"] = cli("return", out, "--roster", roster, *pull_args, "--api-url", api_url, "--status",
                            cwd=course)
        got["publish"] = cli("publish", out, "--to", f"file://{course_bare}", cwd=course)
        got["feedback_after"] = {s: tip(b, "feedback") for s, b in bares.items()}
        result["outputs"] += [got["collect"], got["return"], got["publish"]]
        return got

    with ProcessWatch() as watch:
        result[1] = cycle(1)
        # cycle 2: ontime changes one notebook (sigmoid_mlp back to the stub)
        solved = work / "solved" / "ontime" / A
        shutil.copy2(course / "release" / A / "sigmoid_mlp.ipynb", solved / "sigmoid_mlp.ipynb")
        push_tree(bares["ontime"], solved, message="redo sigmoid")
        result[2] = cycle(2)
        result[3] = cycle(3)
        result[4] = cycle(4)
    result["processes"] = watch.seen
    return result


def report_of(out: Path, student: str) -> dict:
    return json.loads((out / "reports" / f"{student}--{A}.json").read_text())


def test_collect_first_cycle(loop):
    c = loop[1]
    text = c["collect"].stdout
    assert "collect: 6 students, 6 changed, 1 missing, 2 refused, 1 empty, 0 without notebooks" in text
    sub = c["submitted"]
    assert sorted(p.name for p in sub.iterdir()) == ["ontime", "stubby"]
    course_notebooks = sub / "ontime" / A
    notebooks = sorted(p.name for p in course_notebooks.iterdir())
    assert notebooks == ["relu_softmax_mlp.ipynb", "shared_logit_net.ipynb", "sigmoid_mlp.ipynb",
                         "softmax_regression.ipynb", "timestamp.txt"]
    assert all(not p.is_symlink() and p.is_file() for p in course_notebooks.iterdir())
    collected = json.loads((c["out"] / "collected.json").read_text())["students"]
    assert {s: collected[s]["status"] for s in STUDENTS} == {
        "ontime": "collected", "stubby": "collected", "missing": "missing", "Linker": "refused",
        "bigfile": "refused", "empty": "empty"}
    ontime = collected["ontime"]
    assert ontime["sha"] == loop["first_sha"] and ontime["seen_source"] == "first-seen"
    # the first-seen time, not the forged commit date (2001), in nbgrader's format
    stamp = (sub / "ontime" / A / "timestamp.txt").read_text().strip()
    assert stamp == pull_record.nbgrader_timestamp(ontime["seen_at"]) and stamp.startswith("20") \
        and not stamp.startswith("2001") and stamp.endswith(" UTC")
    assert set(ontime["notebooks"]) == {n for n in notebooks if n.endswith(".ipynb")}
    assert all(h.startswith("sha256:") and len(h) == 71 for h in ontime["notebooks"].values())
    assert "bigfile: " in text and "larger than 1 MiB" in text


def test_every_student_has_a_report_with_a_reason(loop):
    out = loop[1]["out"]
    reps = {s: report_of(out, s) for s in STUDENTS}
    assert reps["ontime"]["score"] == reps["ontime"]["max_score"] > 0
    assert reps["stubby"]["score"] == 0
    for student, why in [("missing", "the repository was not found or could not be read"),
                         ("empty", "the repository is empty (nothing was pushed)"),
                         ("bigfile", "the commit's files are larger than 1 MiB together")]:
        rep = reps[student]
        assert rep["score"] == 0 and rep["max_score"] == reps["ontime"]["max_score"]
        assert all(nb["status"] == "missing" and nb["problem"] == f"not submitted: {why}" for nb in rep["notebooks"])


def test_the_symlinked_notebooks_earn_nothing_and_are_reported(loop):
    rep = report_of(loop[1]["out"], "Linker")
    assert rep["score"] == 0 and len(rep["notebooks"]) == 4
    problem = rep["notebooks"][0]["problem"]
    assert problem.startswith("not submitted: no notebook of the assignment could be collected (")
    assert "relu_softmax_mlp.ipynb is a symbolic link: refused (only regular files are collected)" in problem
    assert "Linker: sigmoid_mlp.ipynb is a symbolic link" in loop[1]["collect"].stdout
    readme = branch_files(loop["bares"]["Linker"], "feedback")["README.md"].decode()
    assert "is a symbolic link: refused" in readme and "Autograded score: 0 / " in readme


def test_grades_branch_holds_the_class(loop):
    files = branch_files(loop["course_bare"], "grades")
    assert {f"{A}/reports/{s}--{A}.json" for s in STUDENTS} <= set(files)
    assert f"{A}/grades.csv" in files and f"{A}/summary.md" in files and f"{A}/collected.json" in files
    assert not any(n.endswith("grader-private.log") for n in files)
    rows = list(csv.DictReader(files[f"{A}/grades.csv"].decode().splitlines()))
    assert sorted(r["student"] for r in rows) == sorted(STUDENTS)
    # one commit per run that changed something: cycles 1 and 2, and 3 (collected.json: the feedback tip that
    # cycle 2's return pushed to ontime); cycle 4 changed nothing
    log = sh(["git", "log", "--format=%s", "grades"], cwd=loop["course_bare"]).split("\n")
    assert len([m for m in log if m]) == 3, log
    assert "no commit" not in loop[3]["publish"].stdout and "no commit" in loop[4]["publish"].stdout


def test_feedback_branches_hold_each_students_own_pages_only(loop):
    bares = loop["bares"]
    for student, bare in bares.items():
        files = branch_files(bare, "feedback")
        assert set(files) == {"README.md", "relu_softmax_mlp.html", "shared_logit_net.html", "sigmoid_mlp.html",
                              "softmax_regression.html"}, student
        text = b"".join(files.values()).decode()
        assert f"<b>{student}</b>" in text and f"Student: **{student}**" in text
        for other in STUDENTS:
            if other != student:
                assert f"<b>{other}</b>" not in text and f"**{other}**" not in text and f"({other})" not in text
    readme = branch_files(bares["ontime"], "feedback")["README.md"].decode()
    assert "| relu_softmax_mlp |" in readme and f"Commit graded: `{tip(bares['ontime'], 'main')}`" in readme
    assert "Seen:" in readme and "when the course first saw it" in readme
    assert "missing: " in loop[1]["return"].stdout  # no repository to return to, said on the console


def test_commit_status_through_the_rest_api(loop):
    posts = [c for c in loop["calls"] if c[0] == "POST"]
    by_repo = {}
    for _, path, headers, body in posts:
        by_repo.setdefault(path.split("/statuses/")[0], []).append((path, headers, body))
    # one per commit: ontime twice (two commits), the others once; none without a commit (missing, empty)
    assert sorted((k, len(v)) for k, v in by_repo.items()) == [
        (f"/repos/{ORG}/{A}-Linker", 1), (f"/repos/{ORG}/{A}-bigfile", 1), (f"/repos/{ORG}/{A}-ontime", 2),
        (f"/repos/{ORG}/{A}-stubby", 1)]
    linker = by_repo[f"/repos/{ORG}/{A}-Linker"][0][2]
    assert linker["state"] == "failure" and linker["description"] == (
        "not graded: no notebook of the assignment could be collected")
    path, headers, body = by_repo[f"/repos/{ORG}/{A}-stubby"][0]
    sha = tip(loop["bares"]["stubby"], "main")
    assert path == f"/repos/{ORG}/{A}-stubby/statuses/{sha}"
    assert body["context"] == "autograder" and body["state"] == "failure"
    assert body["description"].startswith("0 / ") and body["description"].endswith(" points (autograded)")
    assert headers["Authorization"] == f"Bearer {TOKEN}"


def test_second_cycle_regrades_only_the_changed_student(loop):
    c = loop[2]
    assert "collect: 6 students, 1 changed, 1 missing, 2 refused, 1 empty, 0 without notebooks" in c["collect"].stdout
    assert sorted(p.name for p in c["submitted"].iterdir()) == ["ontime"]
    graded = [line for line in c["grade"] if line.startswith("[")]
    assert all("ontime" in line and not any(o in line for o in STUDENTS if o != "ontime") for line in graded)
    assert len(graded) == 4
    rep = report_of(c["out"], "ontime")
    sig = next(nb for nb in rep["notebooks"] if nb["notebook"] == "sigmoid_mlp")
    assert sig["score"] == 0 and rep["score"] < rep["max_score"]
    # everyone else's report is the first cycle's, byte for byte
    for student in STUDENTS:
        if student != "ontime":
            name = f"reports/{student}--{A}.json"
            assert (c["out"] / name).read_bytes() == (loop[1]["out"] / name).read_bytes(), student
    # only ontime's feedback branch got a commit
    moved = {s for s in loop["bares"] if c["feedback_before"][s] != c["feedback_after"][s]}
    assert moved == {"ontime"}
    assert "1 feedback branches updated" in c["return"].stdout


def test_third_cycle_changes_and_fetches_nothing(loop, course, tmp_path):
    c = loop[3]
    assert "collect: 6 students, 0 changed, 1 missing, 2 refused, 1 empty, 0 without notebooks" in c["collect"].stdout
    assert not c["submitted"].exists() and c["grade"] == []
    record = tmp_path / "record"
    shutil.copytree(c["out"], record)
    counts = pull_collect.collect(loop["roster"], A, tmp_path / "sub", record, root=course, org=ORG,
                                  url_template=f"file://{loop['base']}/repos/{{assignment}}-{{student}}.git",
                                  limits=pull_collect.Limits(max_bytes=2**20), echo=lambda m: None)
    assert counts["fetched"] == 0 and counts["changed"] == 0 and counts["collected"] == 0
    assert (record / "collected.json").read_bytes() == (c["out"] / "collected.json").read_bytes()
    assert c["feedback_before"] == c["feedback_after"]
    assert "0 feedback branches updated" in c["return"].stdout
    # the feedback tip each collect saw, in the same ls-remote as the head: cycle 3 saw what cycle 2's return
    # pushed to ontime, and that alone was no change (0 changed above)
    tips = {n: {s: e.get("feedback_tip") for s, e in json.loads((loop[n]["out"] / "collected.json").read_text())[
        "students"].items()} for n in (1, 2, 3, 4)}
    bares = loop["bares"]
    assert tips[1] == {**{s: {"branch": "feedback", "sha": None} for s in bares}, "missing": None}
    assert tips[2] == {**{s: {"branch": "feedback", "sha": loop[1]["feedback_after"][s]} for s in bares},
                       "missing": None}
    assert tips[3] == tips[4] == {**{s: {"branch": "feedback", "sha": loop[2]["feedback_after"][s]} for s in bares},
                                  "missing": None}
    assert tips[3]["ontime"] != tips[2]["ontime"]
    assert "collect: 6 students, 0 changed" in loop[4]["collect"].stdout
    assert (loop[4]["out"] / "collected.json").read_bytes() == (c["out"] / "collected.json").read_bytes()


def test_the_token_appears_nowhere(loop):
    texts = [p.stdout + p.stderr for p in loop["outputs"]]
    texts += sorted(loop["processes"])
    for path in loop["base"].rglob("*"):
        if path.is_file() and not path.is_symlink() and "objects" not in path.parts:
            texts.append(path.read_bytes().decode("utf-8", "replace"))  # .git/config, reports, record, CSV
    for bare in [*loop["bares"].values(), loop["course_bare"]]:
        for branch in ("feedback", "grades"):
            if tip(bare, branch):
                texts += [v.decode("utf-8", "replace") for v in branch_files(bare, branch).values()]
    texts += [json.dumps([method, path, body]) for method, path, _, body in loop["calls"]]  # not the headers
    assert len(texts) > 50 and any("autograder.cli" in t for t in loop["processes"])
    for text in texts:
        for secret in SECRET_FORMS:
            assert secret not in text


# -- the token over HTTP: only in git's environment, for the clone URL's host ------------

def test_token_goes_to_git_by_environment_only_and_is_scrubbed(course, tmp_path, api):
    api_url, calls = api
    roster = tmp_path / "roster.csv"
    roster.write_text("student,repository\nzed,dl1/zed-repo\n")
    with ProcessWatch() as watch:
        proc = cli("collect", roster, "--assignment", A, "--dest", tmp_path / "sub", "--record", tmp_path / "rec",
                   "--url-template", api_url + "/{repository}.git", cwd=course)
    assert "zed: dl1/zed-repo: the repository was not found or could not be read" in proc.stdout
    got = [c for c in calls if c[0] == "GET" and c[1].startswith("/dl1/zed-repo.git/info/refs")]
    assert got, calls
    assert got[-1][2].get("Authorization") == "Basic " + SECRET_FORMS[1]  # git sent it: the header works
    everything = proc.stdout + proc.stderr + "".join(watch.seen)
    everything += "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert not any(s in everything for s in SECRET_FORMS)
    assert json.loads((tmp_path / "rec" / "collected.json").read_text())["students"]["zed"]["status"] == "missing"


def test_git_environment_has_the_safe_configuration():
    git = Git("tok")
    env = git.env("https://github.com/o/r.git")
    pairs = {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(int(env["GIT_CONFIG_COUNT"]))}
    assert pairs["core.hooksPath"] == "/dev/null" and pairs["filter.lfs.smudge"] == ""
    assert env["GIT_LFS_SKIP_SMUDGE"] == "1" and env["GIT_CONFIG_GLOBAL"] == "/dev/null"
    assert pairs["http.https://github.com/.extraHeader"].startswith("Authorization: Basic ")
    assert "AUTOGRADER_GIT_TOKEN" not in env
    # the header is scoped to the host git talks to (a redirect elsewhere does not carry it); none for file://
    keys = [k for e in (git.env("https://git.example:8443/o/r.git"), git.env("file:///srv/r.git"), git.env())
            for k, v in e.items() if k.startswith("GIT_CONFIG_KEY_") and "extraHeader" in v]
    assert len(keys) == 1
    assert "http.https://git.example:8443/.extraHeader" in git.env("https://git.example:8443/o/r.git").values()
    assert len(SAFE_CONFIG) + 1 == int(env["GIT_CONFIG_COUNT"])
    assert git.scrub("fatal: x-access-token:tok@host") == "fatal: ***@host"


# -- publish races -------------------------------------------------------------------

def test_a_push_with_a_lease_lands_only_while_the_branch_is_where_the_lease_says(tmp_path):
    bare, scratch = tmp_path / "r.git", tmp_path / "scratch"
    sh(["git", "init", "-q", "--bare", "-b", "main", str(bare)])
    first = commit_entries(bare, [("100644", b"a", b"1")], scratch, ref="refs/heads/fb")
    moved = commit_entries(bare, [("100644", b"a", b"2")], scratch, ref="refs/heads/fb")  # someone else's
    git = Git()
    repo = git.init_bare(tmp_path / "ours")
    ours = git.commit(repo, git.write_tree(repo, {"README.md": b"feedback"}), "ours\n")  # unrelated: not a ff
    assert git.push(repo, f"file://{bare}", ours, "fb", force=True, lease=first) is False  # stale lease
    assert tip(bare, "fb") == moved
    assert git.push(repo, f"file://{bare}", ours, "fb", force=True, lease=moved) is True  # lease holds: replaced
    assert tip(bare, "fb") == ours
    assert git.push(repo, f"file://{bare}", ours, "new", force=True, lease="") is True  # "": must not exist yet
    again = git.commit(repo, git.write_tree(repo, {"README.md": b"feedback again"}), "again\n")
    assert git.push(repo, f"file://{bare}", again, "new", force=True, lease="") is False  # it exists now
    assert tip(bare, "new") == ours


def test_blobs_are_read_in_one_batch_byte_for_byte(tmp_path):
    git = Git()
    repo = git.init_bare(tmp_path / "repo")
    contents = [b"", b"\n", b"a\nb\n\n", bytes(range(256)) * 3, b"x" * 70_000]
    shas = [git.run(["hash-object", "-w", "--stdin"], repo, input=data).stdout.decode().strip() for data in contents]
    assert git.blobs(repo, shas + shas[:2]) == dict(zip(shas, contents))  # a name twice is read once
    assert git.blobs(repo, []) == {}
    with pytest.raises(GitError):
        git.blobs(repo, [shas[0], "0" * 40])


def test_two_publishes_at_once_both_land(loop, tmp_path, course):
    target = tmp_path / "course.git"
    sh(["git", "init", "-q", "--bare", str(target)])
    rec = loop[1]["out"]
    other = tmp_path / "exam22"
    shutil.copytree(rec, other)
    (other / "grades.csv").write_text("student,assignment\n")
    (other / "collected.json").unlink()
    again = tmp_path / "again"
    shutil.copytree(loop[2]["out"], again)
    env = {**os.environ, "AUTOGRADER_GIT_TOKEN": TOKEN}
    procs = [subprocess.Popen([sys.executable, "-m", "autograder.cli", "publish", str(folder), "--to",
                               f"file://{target}", *extra], cwd=course, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for folder, extra in [(rec, []), (other, ["--assignment", "exam22"]), (again, [])]]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    files = branch_files(target, "grades")
    assert files["exam22/grades.csv"] == b"student,assignment\n"
    assert f"{A}/grades.csv" in files
    log = [m for m in sh(["git", "log", "--format=%s", "grades"], cwd=target).split("\n") if m]
    assert len(log) == 3 and sum(m.startswith("exam22:") for m in log) == 1, log
    # the same assignment twice: both commits are in the history, the branch holds the later one's files
    published = {f"{A}/{k}": v for k, v in pull_publish_files(rec).items()}
    published2 = {f"{A}/{k}": v for k, v in pull_publish_files(again).items()}
    assert {k: v for k, v in files.items() if k.startswith(f"{A}/")} in (published, published2)


def pull_publish_files(folder: Path) -> dict:
    from autograder.pull.publish import record_files
    return record_files(folder)


# -- the roster ----------------------------------------------------------------------

def test_roster_classroom_export_bom_quotes_and_refusals(tmp_path):
    path = tmp_path / "classroom_roster.csv"
    path.write_bytes("\ufeff\"identifier\",\"github_username\",\"github_id\",\"name\"\n"
                     "\"a@x.org\",\"Ada-L\",\"1\",\"Lovelace, Ada\"\n"
                     "\"b@x.org\",\"\",\"\",\"Not linked\"\n"
                     "\"c@x.org\",\"../etc\",\"3\",\"Evil\"\n"
                     "\"d@x.org\",\"bo\",\"4\",\"Bo\"\n".encode())
    lines = []
    entries = pull_roster.read(path, assignment="exam22", org="dl1", echo=lines.append)
    assert entries == [pull_roster.Entry("Ada-L", "dl1/exam22-Ada-L"), pull_roster.Entry("bo", "dl1/exam22-bo")]
    assert lines == ["roster line 3: no student id: skipped",
                     "roster line 4: refused student id '../etc': use letters, digits, '.', '_' and '-' only, at "
                     "most 100, starting and ending with a letter or digit"]


@pytest.mark.parametrize("row, error", [
    ("Ada\nada\n", "ada and Ada differ only in case"),
    ("ada\nada\n", "ada is in the roster twice"),
])
def test_roster_case_clash_is_an_error(tmp_path, row, error):
    from autograder.course import CourseError
    path = tmp_path / "r.csv"
    path.write_text("student\n" + row)
    with pytest.raises(CourseError, match=error):
        pull_roster.read(path, assignment="a", org="o", echo=lambda m: None)


def test_roster_refusals_carry_on(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("student,repository\nok,o/ok\nx--y,\nbad,not a repo\n\"a\nb\",\nlast,\n")
    lines = []
    entries = pull_roster.read(path, assignment="a", org="o", echo=lines.append)
    assert entries == [pull_roster.Entry("ok", "o/ok"), pull_roster.Entry("last", "o/a-last")]
    assert lines == ["roster line 3: refused student id 'x--y': no '--' or '..' in an id",
                     "roster line 4: refused repository 'not a repo' of bad: it must be owner/name",
                     "roster line 5: refused student id 'a?b': use letters, digits, '.', '_' and '-' only, at most "
                     "100, starting and ending with a letter or digit"]


def test_not_utf8_roster_is_an_error(tmp_path):
    from autograder.course import CourseError
    path = tmp_path / "r.csv"
    path.write_bytes(b"student\n\xff\n")
    with pytest.raises(CourseError, match="not UTF-8"):
        pull_roster.read(path, assignment="a", org="o", echo=print)


def test_collect_bad_arguments_exit_2(course, tmp_path):
    roster = tmp_path / "r.csv"
    roster.write_text("student\nada\n")
    proc = cli("collect", roster, "--assignment", A, "--record", tmp_path / "rec", cwd=course, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"autograder collect: error: {roster}, line 2: ada has no 'repository': give --org "
        f"(repositories are then ORG/{A}-STUDENT)"]
    proc = cli("collect", tmp_path / "nope.csv", "--assignment", A, "--record", tmp_path / "rec", cwd=course,
               check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("autograder collect: error: ") \
        and "cannot read the roster" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = cli("collect", roster, "--assignment", A, "--record", tmp_path / "rec", "--org", "o",
               "--url-template", "https://x:y@host/{repository}", cwd=course, check=False)
    assert proc.returncode == 2 and "must not hold credentials" in proc.stderr


# -- autograder cycle: the loop on one machine -------------------------------------------

def test_cycle_runs_the_loop_on_one_machine_and_then_only_what_changed(loop, course, tmp_path):
    """`autograder cycle` on persistent folders (a lecturer's computer): the same reports as the four verbs."""
    base = tmp_path / "one"
    repos, work, private = base / "repos", base / "work", base / "tmp"
    for folder in (repos, work, private):
        folder.mkdir(parents=True)
    bares = {s: repos / f"{A}-{s}.git" for s in ("ontime", "stubby")}
    for bare in bares.values():
        sh(["git", "init", "-q", "--bare", "-b", "main", str(bare)])
    write_student(course, work / "solved", A, "ontime")
    push_tree(bares["ontime"], work / "solved" / "ontime" / A)
    shutil.copytree(course / "release" / A, work / "stubby")
    push_tree(bares["stubby"], work / "stubby")
    course_bare = base / "course.git"
    sh(["git", "init", "-q", "--bare", "-b", "main", str(course_bare)])
    roster = base / "roster.csv"
    roster.write_text("student\nontime\nstubby\nmissing\n")
    record, dest = base / "record" / A, base / "submitted"

    def cycle() -> tuple[subprocess.CompletedProcess, dict]:
        before = {s: tip(b, "feedback") for s, b in bares.items()}
        env = {**os.environ, "AUTOGRADER_GIT_TOKEN": TOKEN, "TMPDIR": str(private)}
        env.pop("GITHUB_OUTPUT", None)
        proc = subprocess.run([sys.executable, "-m", "autograder.cli", "cycle", str(roster), "--assignment", A,
                               "--record", str(record), "--dest", str(dest), "--org", ORG, "--url-template",
                               f"file://{repos}/{{assignment}}-{{student}}.git", "--publish-to",
                               f"file://{course_bare}", "--jobs", "2", "--no-gradebook"],
                              cwd=course, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert list(private.iterdir()) == []  # the zygote and every scratch folder are gone
        assert not [p for p in Path("/proc").glob("[0-9]*/cmdline") if _reads(p) and str(private) in _reads(p)]
        for secret in SECRET_FORMS:
            assert secret not in proc.stdout + proc.stderr
        return proc, {s: before[s] != tip(b, "feedback") for s, b in bares.items()}

    first, moved = cycle()
    assert "collect: 3 students, 3 changed, 1 missing" in first.stdout
    assert "graded 2 student(s) (8 notebooks) and reused 0" in first.stdout
    assert "return: 2 feedback branches updated" in first.stdout and "publish: backprop/" in first.stdout
    assert first.stdout.strip().splitlines()[-1].startswith(
        "cycle: 3 changed, 2 collected, 2 graded or kept by grade, 2 feedback branch(es) updated, 0 failed; "
        "published ")
    assert moved == {"ontime": True, "stubby": True}
    # the same scores, notebook by notebook, as the four verbs gave the same students in the loop above
    for student in ("ontime", "stubby", "missing"):
        mine, theirs = report_of(record, student), report_of(loop[1]["out"], student)
        assert [(nb["notebook"], nb["status"], nb["score"]) for nb in mine["notebooks"]] == \
            [(nb["notebook"], nb["status"], nb["score"]) for nb in theirs["notebooks"]], student
    grades_tip = tip(course_bare, "grades")
    assert {f"{A}/grades.csv", f"{A}/reports/missing--{A}.json"} <= set(branch_files(course_bare, "grades"))

    # ontime changes one notebook: only ontime is graded again (stubby's report is kept), returned, published
    solved = work / "solved" / "ontime" / A
    shutil.copy2(course / "release" / A / "sigmoid_mlp.ipynb", solved / "sigmoid_mlp.ipynb")
    push_tree(bares["ontime"], solved, message="redo sigmoid")
    stubby_report = (record / "reports" / f"stubby--{A}.json").read_bytes()
    second, moved = cycle()
    assert "collect: 3 students, 1 changed, 1 missing" in second.stdout
    assert "graded 1 student(s) (4 notebooks) and reused 1" in second.stdout
    assert moved == {"ontime": True, "stubby": False}
    assert next(nb for nb in report_of(record, "ontime")["notebooks"] if nb["notebook"] == "sigmoid_mlp")["score"] == 0
    assert (record / "reports" / f"stubby--{A}.json").read_bytes() == stubby_report
    assert tip(course_bare, "grades") != grades_tip
    grades_tip = tip(course_bare, "grades")

    # nothing changed: every report kept, no feedback commit; the grades branch gets the feedback tip that the
    # second cycle's return pushed (collected.json), and the next cycle makes no commit at all
    third, moved = cycle()
    assert "collect: 3 students, 0 changed" in third.stdout
    assert "graded 0 student(s) (0 notebooks) and reused 2" in third.stdout
    assert moved == {"ontime": False, "stubby": False} and tip(course_bare, "grades") != grades_tip
    grades_tip = tip(course_bare, "grades")
    fourth, moved = cycle()
    assert "graded 0 student(s) (0 notebooks) and reused 2" in fourth.stdout and "no commit" in fourth.stdout
    assert moved == {"ontime": False, "stubby": False} and tip(course_bare, "grades") == grades_tip

    # a fresh submitted/ folder and nothing changed: nothing to grade, the class files are rebuilt from the reports
    (record / "grades.csv").unlink()
    dest = base / "fresh-submitted"
    fifth, moved = cycle()
    assert f"nothing to grade: no submission of {A} in {dest}" in fifth.stdout and "grading " not in fifth.stdout
    assert ", nothing graded or kept by grade, 0 feedback branch(es) updated" in fifth.stdout
    assert sorted(r["student"] for r in csv.DictReader((record / "grades.csv").read_text().splitlines())) == \
        ["missing", "ontime", "stubby"]
    assert moved == {"ontime": False, "stubby": False} and tip(course_bare, "grades") == grades_tip


def _reads(path: Path) -> str:
    try:
        return path.read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def test_cycle_bad_arguments_exit_2_before_anything_is_touched(course, tmp_path):
    roster = tmp_path / "r.csv"
    roster.write_text("student\nada\n")
    for args, error in [(["--jobs", "0"], "--jobs must be at least 1"),
                        (["--deadline", "2026-11-20T23:59"], "--deadline"),
                        ([], f"{roster}, line 2: ada has no 'repository': give --org")]:
        proc = cli("cycle", roster, "--assignment", A, "--record", tmp_path / "rec", "--dest", tmp_path / "sub",
                   *args, cwd=course, check=False)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("autograder cycle: error: ") and error in lines[0], lines
        assert not (tmp_path / "sub").exists()
    assert not (tmp_path / "rec").exists() or not any((tmp_path / "rec").iterdir())
    helped = cli("cycle", "--help", cwd=course)
    assert all(word in helped.stdout for word in ("collect, grade, return and publish", "--publish-to",
                                                  "AUTOGRADER_GIT_TOKEN"))


# -- heads through GitHub's GraphQL API: one request instead of an ls-remote per unchanged student -------

class Heads(http.server.BaseHTTPRequestHandler):
    """GitHub's GraphQL endpoint for collect's heads query, answered from the bare repositories on disk."""

    repos: Path = Path()
    calls: list = []
    mode = "ok"  # "ok", "fail" (HTTP 502) or "odd" (stubby's head is not a SHA)

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        type(self).calls.append((self.path, self.headers.get("Authorization"), body))
        if self.mode == "fail":
            self.send_response(502)
            self.end_headers()
            return
        variables, data, errors, i = body["variables"], {}, [], 0
        while f"o{i}" in variables:
            owner, name = variables[f"o{i}"], variables[f"n{i}"]
            assert f"r{i}: repository(owner: $o{i}, name: $n{i})" in body["query"]
            bare = self.repos / f"{name}.git"
            if owner != ORG or not bare.is_dir():
                data[f"r{i}"] = None
                errors.append({"type": "NOT_FOUND", "path": [f"r{i}"], "message": "Could not resolve"})
            else:
                head, fb = (tip(bare, "main"), tip(bare, variables["ref"].removeprefix("refs/heads/")))
                if self.mode == "odd" and name.endswith("stubby"):
                    head = "not-a-sha"
                data[f"r{i}"] = {"defaultBranchRef": {"target": {"oid": head}} if head else None,
                                 "feedback": {"target": {"oid": fb}} if fb else None}
            i += 1
        answer = json.dumps({"data": data, **({"errors": errors} if errors else {})}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(answer)

    def do_GET(self):  # noqa: N802 - the activity API (push times): not here, so first-seen times
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_collect_asks_the_api_for_the_heads_of_unchanged_students_and_git_for_the_rest(course, tmp_path, monkeypatch):
    repos, work = tmp_path / "repos", tmp_path / "work"
    repos.mkdir()
    bares = {s: repos / f"{A}-{s}.git" for s in ("ontime", "stubby")}
    for bare in bares.values():
        sh(["git", "init", "-q", "--bare", "-b", "main", str(bare)])
    write_student(course, work / "solved", A, "ontime")
    push_tree(bares["ontime"], work / "solved" / "ontime" / A)
    shutil.copytree(course / "release" / A, work / "stubby")
    push_tree(bares["stubby"], work / "stubby")
    roster = tmp_path / "roster.csv"
    roster.write_text("student\nontime\nstubby\nmissing\n")
    Heads.repos, Heads.calls, Heads.mode = repos, [], "ok"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Heads)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api_url = f"http://127.0.0.1:{server.server_address[1]}"
    asked = []
    real = Git.ls_remote_refs
    monkeypatch.setattr(Git, "ls_remote_refs", lambda self, url, *a, **k: asked.append(url.rsplit("-", 1)[1]) or
                        real(self, url, *a, **k))
    monkeypatch.setattr(pull_collect.github, "HEADS_PER_QUERY", 1)  # one request per repository: batches too

    def both(n: int) -> tuple[list, list, list]:
        """Collect into a record kept by git alone and into one kept with the API: (git asked, lines, posts)."""
        results = []
        for label, kw in (("git", {}), ("api", {"api_url": api_url, "token": TOKEN})):
            del asked[:]
            lines, posts = [], len(Heads.calls)
            pull_collect.collect(roster, A, tmp_path / f"{label}-sub{n}", tmp_path / f"{label}-record", root=course,
                                 org=ORG, url_template=f"file://{repos}/{{assignment}}-{{student}}.git",
                                 echo=lines.append, **kw)
            results.append((sorted(asked), lines, Heads.calls[posts:]))
        recorded = [{s: (e["status"], e.get("sha"), e.get("notebooks"), e.get("feedback_tip"))
                     for s, e in json.loads((tmp_path / f"{label}-record" / "collected.json").read_text())[
                         "students"].items()} for label in ("git", "api")]
        assert recorded[0] == recorded[1]  # the same record either way
        assert results[0][0] == ["missing.git", "ontime.git", "stubby.git"]  # git alone asks everyone
        return results[1]

    asked_api, _, posts = both(1)  # nothing recorded yet: the API is not asked for heads
    assert asked_api == ["missing.git", "ontime.git", "stubby.git"] and posts == []
    asked_api, lines, posts = both(2)  # nothing changed: one request per recorded student, git only for missing
    assert asked_api == ["missing.git"] and len(posts) == 2
    assert all(path == "/graphql" and auth == f"Bearer {TOKEN}" and TOKEN not in json.dumps(body)
               and "ontime" not in body["query"] and "stubby" not in body["query"] for path, auth, body in posts)
    assert sorted(body["variables"]["n0"] for _, _, body in posts) == [f"{A}-ontime", f"{A}-stubby"]
    assert not any("every head" in line for line in lines)
    # ontime pushes again, and stubby's feedback branch gets a commit (as return would): git asks ontime only,
    # and the API's feedback tip of stubby is recorded
    solved = work / "solved" / "ontime" / A
    shutil.copy2(course / "release" / A / "sigmoid_mlp.ipynb", solved / "sigmoid_mlp.ipynb")
    push_tree(bares["ontime"], solved, message="redo")
    sh(["git", "push", "-q", str(bares["stubby"]), "HEAD:refs/heads/feedback"], cwd=work / "stubby")
    asked_api, _, _ = both(3)
    assert asked_api == ["missing.git", "ontime.git"]
    stubby = json.loads((tmp_path / "api-record" / "collected.json").read_text())["students"]["stubby"]
    assert stubby["feedback_tip"] == {"branch": "feedback", "sha": tip(bares["stubby"], "feedback")}
    Heads.mode = "odd"  # an answer that is not a SHA: that student is asked by git
    asked_api, _, _ = both(4)
    assert asked_api == ["missing.git", "stubby.git"]
    Heads.mode = "fail"  # the API fails: one line, and git asks everyone
    asked_api, lines, posts = both(5)
    assert asked_api == ["missing.git", "ontime.git", "stubby.git"] and len(posts) == 1
    assert [line for line in lines if "every head" in line] == [
        "collect: every head asked by git (POST /graphql: HTTP 502 Bad Gateway)"]
    server.shutdown()
    server.server_close()


# -- no dependencies: collect runs before anything is installed -------------------------

def test_collect_runs_in_a_venv_without_the_dependencies(loop, course, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "-e", str(ROOT)],
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import numpy"], capture_output=True)
    assert probe.returncode != 0  # really without dependencies
    out = tmp_path / "record"
    shutil.copytree(loop[3]["out"], out)
    proc = subprocess.run([str(venv / "bin" / "autograder"), "collect", str(loop["roster"]), "--assignment", A,
                           "--dest", str(tmp_path / "sub"), "--record", str(out), "--org", ORG, "--max-repo-mb", "1",
                           "--url-template", f"file://{loop['base']}/repos/{{assignment}}-{{student}}.git"],
                          cwd=course, capture_output=True, text=True, env={**os.environ, "GITHUB_OUTPUT": str(
                              tmp_path / "gh_out")})
    assert proc.returncode == 0, proc.stderr
    assert "collect: 6 students, 0 changed" in proc.stdout
    assert (tmp_path / "gh_out").read_text() == "changed=0\ncollected=0\n"


# -- workflows and the student template ----------------------------------------------------

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[test]'"
    return found


def test_workflows_pass_zizmor_and_the_schema():
    assert {"autograde.yml", "ci.yml"} <= {p.name for p in WORKFLOWS}
    zizmor = subprocess.run([_tool("zizmor"), "--offline", "--min-severity", "medium", "--no-progress",
                             *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    schema = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                             *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert schema.returncode == 0, schema.stdout + schema.stderr


def test_autograde_workflow_shape():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "autograde.yml").read_text())
    on = wf[True]  # YAML 1.1 reads the key `on` as True
    assert set(on) == {"schedule", "workflow_dispatch", "push"}
    assert on["schedule"] == [{"cron": "*/15 * * * *"}] and on["push"]["paths"] == ["submitted/**"]
    text = (ROOT / ".github" / "workflows" / "autograde.yml").read_text()
    assert "repository_dispatch" not in text and "client_payload" not in text
    for job in wf["jobs"].values():
        for step in job.get("steps", []):
            if "uses" in step:
                ref = step["uses"].split("@")[1]
                assert len(ref) == 40 and all(ch in "0123456789abcdef" for ch in ref), step["uses"]
            assert "inputs." not in step.get("run", ""), step


def test_autograde_workflow_flags_exist_and_deadline_options_reach_collect_and_grade():
    from autograder import cli as autograder_cli

    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "autograde.yml").read_text())
    used = {}  # verb -> the flags its step gives it (on its line, or in an *_args array of the same script)
    for job in wf["jobs"].values():
        for step in job.get("steps", []):
            script = step.get("run", "")
            assert "${{" not in script, step  # expressions reach scripts through env only
            lines = script.replace("\\\n", " ").splitlines()
            verbs = [m.group(1) for line in lines for m in re.finditer(r"\bautograder ([a-z-]+)", line)]
            flags = {f for line in lines if re.search(r"\bautograder [a-z-]+|_args\+?=\(", line)
                     for f in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", line)}
            for verb in verbs:
                used.setdefault(verb, set()).update(flags)
    assert {"collect", "grade", "return", "publish", "merge"} <= set(used)
    for verb, flags in used.items():
        _, parser = autograder_cli.verb_parser(verb)
        assert flags <= set(parser._option_string_actions), (verb, flags - set(parser._option_string_actions))
    for verb in ("collect", "grade"):
        assert {"--deadline", "--late-policy", "--grace", "--extensions"} <= used[verb], verb
    # from repository variables, through env, and given only when set
    assert (wf["env"]["DEADLINE"], wf["env"]["LATE_POLICY"], wf["env"]["GRACE"]) == (
        "${{ vars.AUTOGRADER_DEADLINE }}", "${{ vars.AUTOGRADER_LATE_POLICY }}", "${{ vars.AUTOGRADER_GRACE }}")
    text = (ROOT / ".github" / "workflows" / "autograde.yml").read_text()
    for line in ('[ -n "$DEADLINE" ] && deadline_args+=(--deadline "$DEADLINE")',
                 '[ -n "$LATE_POLICY" ] && deadline_args+=(--late-policy "$LATE_POLICY")',
                 '[ -n "$GRACE" ] && deadline_args+=(--grace "$GRACE")'):
        assert text.count(line) == 2, line  # collect and grade
    header = text.split("\nname: autograde")[0]
    for var in ("AUTOGRADER_DEADLINE", "AUTOGRADER_LATE_POLICY", "AUTOGRADER_GRACE", "extensions.csv"):
        assert var in header, var  # documented in the header comment


def test_student_template_holds_no_secret(course, tmp_path):
    dest = student_template.run(A, tmp_path / "tpl", root=course, echo=lambda m: None)
    for path in dest.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert "secrets." not in text and "TOKEN" not in text.upper().replace("TOKENS", "") \
                and "dispatch" not in text.replace("workflow_dispatch", ""), path
    workflow = (dest / ".github" / "workflows" / "check.yml").read_text()
    assert "workflow_dispatch" in workflow
    readme = (dest / "README.md").read_text()
    assert "`feedback` branch" in readme and "status" in readme
    schema = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                             str(dest / ".github" / "workflows" / "check.yml")], capture_output=True, text=True)
    assert schema.returncode == 0, schema.stdout
    zizmor = subprocess.run([_tool("zizmor"), "--offline", "--min-severity", "medium", "--no-progress",
                             str(dest / ".github" / "workflows" / "check.yml")], capture_output=True, text=True)
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr


# -- hostile repositories: collect alone (no grading) ---------------------------------------

def commit_entries(bare: Path, entries: list, scratch: Path, ref: str = "refs/heads/main") -> str:
    """Push a commit whose tree is exactly ``entries``: (mode, name bytes, content bytes or a commit SHA)."""
    if scratch.exists():
        shutil.rmtree(scratch)
    sh(["git", "init", "-q", "-b", "main", str(scratch)])
    lines = b""
    for mode, name, content in entries:
        if mode == "160000":
            sha = content
        else:
            sha = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=scratch, input=content,
                                 capture_output=True, check=True).stdout.decode().strip()
        lines += f"{mode} {sha}\t".encode() + name + b"\0"
    subprocess.run(["git", "update-index", "--add", "-z", "--index-info"], cwd=scratch, input=lines, check=True)
    tree = sh(["git", "write-tree"], cwd=scratch).strip()
    commit = sh(["git", "commit-tree", tree, "-m", "x"], cwd=scratch).strip()
    sh(["git", "push", "-q", "-f", str(bare), f"{commit}:{ref}"], cwd=scratch)
    return commit


def test_hostile_repositories(course, tmp_path):
    repos = tmp_path / "repos"
    nb = (course / "release" / A / "relu_softmax_mlp.ipynb").read_bytes()
    bares = {}
    for student in ["subby", "weird", "many", "nonb", "rev"]:
        bares[student] = repos / f"{A}-{student}.git"
        sh(["git", "init", "-q", "--bare", "-b", "main", str(bares[student])])
    scratch = tmp_path / "scratch"
    fake = "1" * 40
    commit_entries(bares["subby"], [
        ("160000", b"sigmoid_mlp.ipynb", fake),  # a submodule named like a notebook
        ("100644", b".gitmodules", b'[submodule "x"]\n\tpath = sigmoid_mlp.ipynb\n\turl = file:///nowhere\n'),
        ("100644", b".gitattributes", b"*.ipynb filter=lfs diff=lfs merge=lfs -text\n"),
        ("100644", b"relu_softmax_mlp.ipynb", nb)], scratch)
    commit_entries(bares["weird"], [
        ("100644", b"relu_softmax_mlp (1).ipynb", nb),  # a renamed copy: collected, grade names it
        ("100644", b"evil\nname.ipynb", nb),
        ("100644", b"\xff\xfe.ipynb", nb),
        ("100644", b"sub/shared_logit_net.ipynb", nb),  # not at the top level: ignored
        ("100755", b"softmax_regression.ipynb", nb)], scratch)
    commit_entries(bares["many"], [("100644", f"f{i}.txt".encode(), b"x") for i in range(30)]
                   + [("100644", b"relu_softmax_mlp.ipynb", nb)], scratch)
    commit_entries(bares["nonb"], [("100644", b"README.md", b"hello")], scratch)
    first = commit_entries(bares["rev"], [("100644", b"relu_softmax_mlp.ipynb", nb)], scratch)
    roster = tmp_path / "roster.csv"
    roster.write_text("student\n" + "\n".join(bares) + "\n")
    rec, sub = tmp_path / "rec", tmp_path / "sub"
    args = ["--assignment", A, "--dest", sub, "--record", rec, "--org", ORG, "--max-files", "20",
            "--url-template", f"file://{repos}/{{assignment}}-{{student}}.git"]
    proc = cli("collect", roster, *args, cwd=course)
    assert "collect: 5 students, 5 changed, 0 missing, 1 refused, 0 empty, 1 without notebooks" in proc.stdout
    seen = json.loads((rec / "collected.json").read_text())["students"]
    assert {s: seen[s]["status"] for s in bares} == {"subby": "collected", "weird": "collected", "many": "refused",
                                                     "nonb": "no-notebooks", "rev": "collected"}
    assert seen["subby"]["notes"] == ["sigmoid_mlp.ipynb is not a regular file: refused"]
    assert sorted(p.name for p in (sub / "subby" / A).iterdir()) == ["relu_softmax_mlp.ipynb", "timestamp.txt"]
    assert (sub / "subby" / A / "relu_softmax_mlp.ipynb").read_bytes() == nb  # no filter ran on it
    assert sorted(p.name for p in (sub / "weird" / A).iterdir()) == [
        "relu_softmax_mlp (1).ipynb", "softmax_regression.ipynb", "timestamp.txt"]
    assert sorted(seen["weird"]["notes"]) == ["a notebook file with an unusable name was refused (use the released "
                                              "names)", "a notebook whose name is not UTF-8 was refused"]
    assert "evil" not in proc.stdout and "evil" not in (rec / "collected.json").read_text()
    many = report_of(rec, "many")
    assert many["score"] == 0 and many["notebooks"][0]["problem"] == \
        "not submitted: the commit has more than 20 files"
    nonb = report_of(rec, "nonb")
    assert nonb["notebooks"][0]["problem"] == \
        "not submitted: the repository holds no notebook (.ipynb) at its top level"
    # a repository that disappears keeps what was collected; a revert keeps its first-seen time
    shutil.rmtree(bares["weird"])
    commit_entries(bares["rev"], [("100644", b"relu_softmax_mlp.ipynb", nb + b" ")], scratch)
    shutil.rmtree(sub)
    proc = cli("collect", roster, *args, cwd=course)
    assert "weird: keeping the submission collected earlier" in proc.stdout
    assert sorted(p.name for p in sub.iterdir()) == ["rev"]
    again = json.loads((rec / "collected.json").read_text())["students"]
    assert again["weird"] == seen["weird"]
    sh(["git", "update-ref", "refs/heads/main", first], cwd=bares["rev"])  # a force-push back to the first commit
    shutil.rmtree(sub)
    proc = cli("collect", roster, *args, cwd=course)
    last = json.loads((rec / "collected.json").read_text())["students"]["rev"]
    assert last["sha"] == first and last["seen_at"] == seen["rev"]["seen_at"]
    assert (sub / "rev" / A / "timestamp.txt").read_text().strip() == \
        pull_record.nbgrader_timestamp(seen["rev"]["seen_at"])
    assert "collect: 5 students, 1 changed, 1 missing" in proc.stdout


# -- exactly what was seen; the feedback branch's tip ------------------------------------------

def test_collect_fetches_the_commit_ls_remote_saw(course, tmp_path, monkeypatch):
    """A push between the course's ls-remote and its fetch: the commit seen is graded, the new one next time."""
    repos, url = tmp_path / "repos", f"file://{tmp_path}/repos/{{assignment}}-{{student}}.git"
    bare = repos / f"{A}-racer.git"
    sh(["git", "init", "-q", "--bare", "-b", "main", str(bare)])
    write_student(course, tmp_path / "w", A, "racer")
    work = tmp_path / "w" / "racer" / A
    first = push_tree(bare, work)
    solved_sigmoid = (work / "sigmoid_mlp.ipynb").read_bytes()
    stub = (course / "release" / A / "sigmoid_mlp.ipynb").read_bytes()
    assert stub != solved_sigmoid
    roster = tmp_path / "roster.csv"
    roster.write_text("student\nracer\n")
    looked, later = Git.ls_remote_refs, []

    def then_the_student_pushes(self, url, refs, timeout=120):
        seen = looked(self, url, refs, timeout=timeout)
        if not later:
            (work / "sigmoid_mlp.ipynb").write_bytes(stub)
            later.append(push_tree(bare, work, message="after the course looked"))
        return seen

    monkeypatch.setattr(Git, "ls_remote_refs", then_the_student_pushes)
    rec = tmp_path / "rec"
    counts = pull_collect.collect(roster, A, tmp_path / "sub1", rec, root=course, org=ORG, url_template=url,
                                  echo=lambda m: None)
    monkeypatch.undo()
    assert tip(bare, "main") == later[0] != first
    entry = json.loads((rec / "collected.json").read_text())["students"]["racer"]
    assert (entry["status"], entry["sha"], entry["history"]) == ("collected", first, {first: entry["seen_at"]})
    assert (counts["changed"], counts["collected"], counts["fetched"]) == (1, 1, 1)
    assert (tmp_path / "sub1" / "racer" / A / "sigmoid_mlp.ipynb").read_bytes() == solved_sigmoid
    assert entry["notebooks"]["sigmoid_mlp.ipynb"] == "sha256:" + hashlib.sha256(solved_sigmoid).hexdigest()
    # the next collect takes the new commit, with the time the course first saw it
    counts = pull_collect.collect(roster, A, tmp_path / "sub2", rec, root=course, org=ORG, url_template=url,
                                  echo=lambda m: None)
    again = json.loads((rec / "collected.json").read_text())["students"]["racer"]
    assert (again["sha"], counts["changed"], counts["collected"]) == (later[0], 1, 1)
    assert again["history"] == {first: entry["seen_at"], later[0]: again["seen_at"]}
    assert again["seen_at"] > entry["seen_at"] and again["pushed_at"] == again["seen_at"]
    assert (tmp_path / "sub2" / "racer" / A / "sigmoid_mlp.ipynb").read_bytes() == stub
    assert (tmp_path / "sub2" / "racer" / A / "timestamp.txt").read_text() == \
        pull_record.nbgrader_timestamp(again["seen_at"]) + "\n"


def test_collect_records_the_feedback_tip_from_the_same_ls_remote(course, tmp_path, monkeypatch):
    repos, url = tmp_path / "repos", f"file://{tmp_path}/repos/{{assignment}}-{{student}}.git"
    bare = repos / f"{A}-fb.git"
    sh(["git", "init", "-q", "--bare", "-b", "main", str(bare)])
    write_student(course, tmp_path / "w", A, "fb")
    push_tree(bare, tmp_path / "w" / "fb" / A)
    roster = tmp_path / "roster.csv"
    roster.write_text("student\nfb\ngone\n")
    rec = tmp_path / "rec"
    ran, run = [], Git.run

    def spy(self, args, *rest, **kw):
        ran.append(list(args))
        return run(self, args, *rest, **kw)

    monkeypatch.setattr(Git, "run", spy)
    counts = pull_collect.collect(roster, A, tmp_path / "sub", rec, root=course, org=ORG, url_template=url,
                                  echo=lambda m: None)
    monkeypatch.undo()
    looks = sorted(args for args in ran if args[0] == "ls-remote")
    assert looks == [["ls-remote", "--", f"file://{repos}/{A}-{s}.git", "HEAD", "refs/heads/feedback"]
                     for s in ("fb", "gone")]  # one git process a student, both refs
    first = json.loads((rec / "collected.json").read_text())["students"]
    assert first["fb"]["feedback_tip"] == {"branch": "feedback", "sha": None}
    assert "feedback_tip" not in first["gone"]  # not readable: nothing seen
    assert counts["changed"] == 2
    # the course's return (here: anyone) moves the feedback branch; nothing else changes
    fb_tip = commit_entries(bare, [("100644", b"README.md", b"feedback")], tmp_path / "scratch",
                            ref="refs/heads/feedback")
    out = tmp_path / "gh_out"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    lines = []
    counts = pull_collect.collect(roster, A, tmp_path / "sub2", rec, root=course, org=ORG, url_template=url,
                                  echo=lines.append)
    second = json.loads((rec / "collected.json").read_text())["students"]
    assert second["fb"]["feedback_tip"] == {"branch": "feedback", "sha": fb_tip}
    assert {k: v for k, v in second["fb"].items() if k != "feedback_tip"} == {
        k: v for k, v in first["fb"].items() if k != "feedback_tip"}
    assert second["gone"] == first["gone"]
    assert (counts["changed"], counts["fetched"], counts["collected"]) == (0, 0, 0)  # the workflow stops
    assert out.read_text() == "changed=0\ncollected=0\n"
    assert lines[-1] == "collect: 2 students, 0 changed, 1 missing, 0 refused, 0 empty, 0 without notebooks"
    assert not (tmp_path / "sub2").exists()
    # another branch by name; a name that is no branch is refused before anything is touched
    before = (rec / "collected.json").read_bytes()
    for bad in ("../x", "a..b", "a b", ""):
        proc = cli("collect", roster, "--assignment", A, "--dest", tmp_path / "sub3", "--record", rec, "--org", ORG,
                   "--url-template", url, "--feedback-branch", bad, cwd=course, check=False)
        assert proc.returncode == 2 and "--feedback-branch" in proc.stderr and "is not a usable branch name" in \
            proc.stderr and len(proc.stderr.strip().splitlines()) == 1, (bad, proc.stderr)
        assert (rec / "collected.json").read_bytes() == before
    proc = cli("collect", roster, "--assignment", A, "--dest", tmp_path / "sub3", "--record", rec, "--org", ORG,
               "--url-template", url, "--feedback-branch", "results/dl1", cwd=course)
    assert "collect: 2 students, 0 changed" in proc.stdout
    third = json.loads((rec / "collected.json").read_text())["students"]
    assert third["fb"]["feedback_tip"] == {"branch": "results/dl1", "sha": None}


# -- a tampered feedback branch is put back (runs after the loop's tests) ---------------------

def test_a_rewritten_or_deleted_feedback_branch_is_put_back(loop, course, tmp_path):
    out = tmp_path / "record"
    shutil.copytree(loop[3]["out"], out)
    bares = loop["bares"]
    ours = {s: branch_files(b, "feedback") for s, b in bares.items()}
    # stubby rewrites the branch with a page claiming full marks; bigfile deletes it
    scratch = tmp_path / "scratch"
    commit_entries(bares["stubby"], [("100644", b"README.md", b"**Autograded score: 27 / 27**")], scratch,
                   ref="refs/heads/feedback")
    sh(["git", "branch", "-D", "feedback"], cwd=bares["bigfile"])
    before = {s: tip(b, "feedback") for s, b in bares.items()}
    pull = ["--org", ORG, "--url-template", f"file://{loop['base']}/repos/{{assignment}}-{{student}}.git"]
    # a return right after the tampering trusts what this cycle's collect saw (the branch was ours):
    # no git process for anyone, nothing pushed; the next collect sees the change
    early = cli("return", out, "--roster", loop["roster"], *pull, cwd=course)
    assert "0 feedback branches updated" in early.stdout and "putting it back" not in early.stdout
    assert {s: tip(b, "feedback") for s, b in bares.items()} == before
    seen = cli("collect", loop["roster"], "--assignment", A, "--dest", tmp_path / "submitted", "--record", out,
               "--max-repo-mb", "1", *pull, cwd=course)
    assert seen.returncode == 0, seen.stderr
    proc = cli("return", out, "--roster", loop["roster"], *pull, cwd=course)
    assert "stubby: the feedback branch was changed by someone else: putting it back" in proc.stdout
    assert "2 feedback branches updated" in proc.stdout
    after = {s: tip(b, "feedback") for s, b in bares.items()}
    assert {s for s in bares if before[s] != after[s]} == {"stubby", "bigfile"}
    assert {s: branch_files(b, "feedback") for s, b in bares.items()} == ours
    again = cli("return", out, "--roster", loop["roster"], *pull, cwd=course)
    assert "0 feedback branches updated" in again.stdout  # idempotent


def test_changed_feedback_goes_over_the_tip_collect_saw_and_a_branch_moved_since_is_put_back(loop, course, tmp_path):
    out = tmp_path / "record"
    shutil.copytree(loop[3]["out"], out)
    bares = loop["bares"]
    returned = json.loads((out / "returned.json").read_text())
    collected = json.loads((out / "collected.json").read_text())["students"]
    for student in ("ontime", "stubby"):  # this record's collect saw the branch at the commit it had pushed
        assert collected[student]["feedback_tip"]["sha"] == returned[student]["commit"]
    # stubby's branch moves after that collect; then both students' feedback changes (a page is graded again)
    commit_entries(bares["stubby"], [("100644", b"README.md", b"**Autograded score: 27 / 27**")],
                   tmp_path / "scratch", ref="refs/heads/feedback")
    tampered, untouched = tip(bares["stubby"], "feedback"), tip(bares["ontime"], "feedback")
    assert untouched == returned["ontime"]["commit"]
    for student in ("ontime", "stubby"):
        page = sorted(report.feedback_folder(out, student, A).glob("*.html"))[0]
        page.write_bytes(page.read_bytes() + b"<!-- graded again -->\n")
    pull = ["--org", ORG, "--url-template", f"file://{loop['base']}/repos/{{assignment}}-{{student}}.git"]
    proc = cli("return", out, "--roster", loop["roster"], *pull, cwd=course)
    assert "2 feedback branches updated" in proc.stdout and "0 failed" in proc.stdout
    # ontime: pushed over the commit collect saw, which stays its parent (the history is kept)
    assert sh(["git", "rev-parse", "feedback^"], cwd=bares["ontime"]).strip() == untouched
    # stubby: the push over what collect saw was refused; the tip was asked for again and the branch put back
    assert "stubby: the feedback branch was changed by someone else: putting it back" in proc.stdout
    assert tip(bares["stubby"], "feedback") != tampered
    after = json.loads((out / "returned.json").read_text())
    for student in ("ontime", "stubby"):
        files = branch_files(bares[student], "feedback")
        assert any(data.endswith(b"<!-- graded again -->\n") for data in files.values())
        assert b"27 / 27" not in files["README.md"] or student == "ontime"
        assert after[student]["commit"] == tip(bares[student], "feedback")


def test_a_failing_status_api_is_a_line_and_exit_1(loop, course, tmp_path):
    class Broken(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        out = tmp_path / "record"
        shutil.copytree(loop[3]["out"], out)
        returned = json.loads((out / "returned.json").read_text())
        for entry in returned.values():
            entry.pop("status", None)
        (out / "returned.json").write_text(json.dumps(returned))
        proc = cli("return", out, "--roster", loop["roster"], "--org", ORG, "--status", "--api-url",
                   f"http://127.0.0.1:{server.server_address[1]}", "--url-template",
                   f"file://{loop['base']}/repos/{{assignment}}-{{student}}.git", cwd=course, check=False)
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 1
    sha = tip(loop["bares"]["stubby"], "main")
    assert (f"stubby: commit status not set (POST /repos/{ORG}/{A}-stubby/statuses/{sha}: HTTP 500 "
            "Internal Server Error)") in proc.stdout
    assert "4 failed" in proc.stdout and "Traceback" not in proc.stderr
    assert not any(s in proc.stdout + proc.stderr for s in SECRET_FORMS)
    after = json.loads((out / "returned.json").read_text())
    assert all("status" not in entry for entry in after.values())  # tried again next time
