"""Deadlines that students cannot forge: push times, late policies, extensions, shown to the student.

Real parts only: student repositories are bare repositories on disk (``file://``);
GitHub's activity API is a local HTTP server on 127.0.0.1 serving recorded
responses (``GET /repos/{owner}/{repo}`` and ``/activity``, paginated with ``Link``
headers); grading is the real ``autograder grade`` on a scratch course of its own
(its gradebook gets due dates and penalties), and ``nbgrader export`` is stock nbgrader.
The deadline lies a day in the past, so every collect runs after it.
"""

from __future__ import annotations

import csv
import datetime as dt
import http.server
import io
import json
import re
import shutil
import threading
import urllib.parse
from pathlib import Path

import pytest

from autograder import course as course_mod
from autograder import report
from autograder.commands import grade
from autograder.course import CourseError, deadlines
from autograder.pull import collect as pull_collect
from autograder.pull import github, giveback

from .conftest import write_student
from .helpers import ROOT
from .test_pull import cli, push_tree, sh

A = "backprop"
ORG = "dl1"
UTC = dt.timezone.utc
DL = (dt.datetime.now(UTC) - dt.timedelta(days=1)).replace(microsecond=0)  # the deadline: a day ago


def at(**delta) -> dt.datetime:
    return DL + dt.timedelta(**delta)


def z(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the activity API ------------------------------------------------------------------

class Activity(http.server.BaseHTTPRequestHandler):
    """Recorded GitHub answers: repository -> activity items (newest first, as GitHub sends them)."""

    repos: dict = {}
    calls: list = []
    page_size = 2
    fail: set = set()

    def do_GET(self):  # noqa: N802
        type(self).calls.append(self.path)
        parts = urllib.parse.urlsplit(self.path)
        m = re.fullmatch(r"/repos/([^/]+/[^/]+?)(/activity)?", parts.path)
        if not m or m.group(1) not in self.repos:
            return self._send(404, {"message": "Not Found"})
        repo = m.group(1)
        if repo in self.fail:
            return self._send(502, {"message": "Bad Gateway"})
        if not m.group(2):
            return self._send(200, {"full_name": repo, "default_branch": "main"})
        query = urllib.parse.parse_qs(parts.query)
        items = list(self.repos[repo])
        if query.get("direction") == ["asc"]:
            items.reverse()
        page = int(query.get("page", ["1"])[0])
        chunk = items[(page - 1) * self.page_size: page * self.page_size]
        link = None
        if page * self.page_size < len(items):
            nxt = urllib.parse.urlencode({**{k: v[0] for k, v in query.items()}, "page": page + 1})
            host = f"http://{self.headers['Host']}"
            link = f'<{host}{parts.path}?{nxt}>; rel="next", <{host}{parts.path}?page=1>; rel="first"'
        return self._send(200, chunk, link)

    def _send(self, code, body, link=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        if link:
            self.send_header("Link", link)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def push_event(after: str, when: dt.datetime, kind: str = "push", before: str = "0" * 40,
               ref: str = "refs/heads/main") -> dict:
    """One activity item as GitHub records it."""
    return {"id": abs(hash((after, when, kind))) % 10**9, "node_id": "RA_x", "before": before, "after": after,
            "ref": ref, "timestamp": z(when), "activity_type": kind,
            "actor": {"login": "student", "id": 1, "type": "User"}}


def record_activity(repo: str, *events) -> None:
    """Add events (given oldest first) to a repository's recorded activity."""
    Activity.repos[repo] = sorted(list(Activity.repos.get(repo, [])) + list(events),
                                  key=lambda e: e["timestamp"], reverse=True)


@pytest.fixture(scope="module")
def api():
    Activity.repos, Activity.calls, Activity.fail = {}, [], set()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Activity)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    return tmp_path_factory.mktemp("deadline-repos")


def new_repo(repos: Path, student: str) -> Path:
    bare = repos / f"{A}-{student}.git"
    sh(["git", "init", "-q", "--bare", "-b", "main", str(bare)])
    return bare


def solved(course: Path, work: Path, student: str) -> Path:
    write_student(course, work, A, student)
    return work / student / A


def collect(course, repos, tmp, roster_rows, *, rule=None, api_url=None, record=None, dest=None):
    tmp.mkdir(parents=True, exist_ok=True)
    roster = tmp / "roster.csv"
    header = "student,extension" if any("," in r for r in roster_rows) else "student"
    roster.write_text(header + "\n" + "\n".join(roster_rows) + "\n")
    record = record or tmp / "record"
    dest = dest or tmp / "submitted"
    lines = []
    counts = pull_collect.collect(roster, A, dest, record, root=course, org=ORG,
                                  url_template=f"file://{repos}/{{assignment}}-{{student}}.git", jobs=2,
                                  api_url=api_url, rule=rule, echo=lines.append)
    data = json.loads((record / "collected.json").read_text())["students"]
    return counts, data, lines


# -- options -----------------------------------------------------------------------------

def test_deadline_needs_a_time_zone():
    assert deadlines.parse_time("2026-11-20T23:59:00+01:00") == dt.datetime(2026, 11, 20, 22, 59, tzinfo=UTC)
    assert deadlines.parse_time("2026-11-20 22:59Z") == dt.datetime(2026, 11, 20, 22, 59, tzinfo=UTC)
    with pytest.raises(CourseError, match=r"has no time zone: add one, e.g\. 2026-11-20T23:59\+01:00"):
        deadlines.parse_time("2026-11-20T23:59")
    with pytest.raises(CourseError, match="is not an ISO 8601 time"):
        deadlines.parse_time("tomorrow")


@pytest.mark.parametrize("text, hours, percent", [
    ("penalty:10/day,max=50", 36, 20), ("penalty:10/day,max=50", 24, 10), ("penalty:10/day,max=50", 24.01, 20),
    ("penalty:10/day,max=50", 24 * 9, 50), ("penalty:10/day", 24 * 12, 100), ("penalty:10/day", 0, 0),
    ("zero", 0.001, 100), ("cutoff", 1, 100), ("zero", -1, 0)])
def test_penalty_per_started_day(text, hours, percent):
    assert deadlines.parse_policy(text).percent(hours * 3600) == percent


@pytest.mark.parametrize("text", ["penalty", "penalty:ten/day", "penalty:10/hour", "penalty:0/day",
                                  "penalty:10/day,max=150", "none", ""])
def test_bad_policy_is_refused(text):
    with pytest.raises(CourseError, match="--late-policy"):
        deadlines.parse_policy(text)


def test_grace_and_extensions(tmp_path):
    ext = tmp_path / "ext.csv"
    ext.write_text("student,deadline\nann,2026-11-22T12:00:00Z\nbob,\n")
    rule = deadlines.make_rule("2026-11-20T23:59:00Z", "15", ext, "penalty:10/day")
    assert rule.effective("bob") == dt.datetime(2026, 11, 21, 0, 14, tzinfo=UTC)
    assert rule.effective("ann") == dt.datetime(2026, 11, 22, 12, 15, tzinfo=UTC)
    assert rule.decide("bob", "2026-11-21T00:14:00.000000Z", "first-seen")["late"] is False
    late = rule.decide("bob", "2026-11-21T00:14:01.000000Z", "first-seen")
    assert (late["late"], late["late_seconds"], late["penalty_percent"]) == (True, 1, 10)
    on = rule.decide("ann", "2026-11-22T12:00:00.000000Z", "github-activity")
    assert (on["late"], on["extension"], on["due"], on["common_due"]) == (
        False, True, "2026-11-22T12:00:00Z", "2026-11-20T23:59:00Z")
    assert rule.decide("bob", None, None)["late"] is None  # no push time: nothing held against the student
    ext.write_text("student,deadline\nann,next week\n")
    with pytest.raises(CourseError, match=r"--extensions ext.csv, line 2: 'next week' is not an ISO 8601 time"):
        deadlines.make_rule("2026-11-20T23:59:00Z", 0, ext, None)
    ext.write_text("name,when\nann,2026-11-22T12:00:00Z\n")
    with pytest.raises(CourseError, match="needs a 'student' column and a 'deadline'"):
        deadlines.make_rule("2026-11-20T23:59:00Z", 0, ext, None)
    with pytest.raises(CourseError, match="--grace"):
        deadlines.make_rule("2026-11-20T23:59:00Z", "-5", None, None)
    with pytest.raises(CourseError, match="need --deadline"):
        deadlines.make_rule(None, 0, None, "zero")


# -- the activity API --------------------------------------------------------------------

def test_activity_api_pages_and_earliest_push(api):
    sha, other = "a" * 40, "b" * 40
    record_activity("o/paged",
                    push_event(other, at(hours=-5)),
                    push_event(sha, at(hours=-3), ref="refs/heads/feature"),  # another branch: not the head of main
                    push_event(sha, at(hours=-2)),  # the earliest push that made it the head of main
                    push_event(other, at(hours=-1), kind="force_push"),
                    push_event(sha, at(hours=2), kind="force_push", before=other))  # pushed again later
    Activity.calls.clear()
    branch, pushes = github.pushes(api, "o/paged", token="t")
    assert branch == "main" and len(pushes) == 4
    assert github.first_push(pushes, sha) == at(hours=-2)
    assert github.last_before(pushes, DL) == other
    assert sum("/activity" in c for c in Activity.calls) == 3  # 5 items, 2 a page: every page was read
    assert any("page=3" in c for c in Activity.calls)


def test_activity_api_error_is_an_api_error(api):
    record_activity("o/broken", push_event("c" * 40, DL))
    Activity.fail.add("o/broken")
    with pytest.raises(github.ApiError, match="HTTP 502"):
        github.pushes(api, "o/broken", token=None)
    with pytest.raises(github.ApiError, match="HTTP 404"):
        github.pushes(api, "o/nowhere", token=None)


# -- collect end to end -------------------------------------------------------------------

def test_a_forged_commit_date_is_late_under_every_policy(course, repos, api, tmp_path):
    bare = new_repo(repos, "forger")
    sha = push_tree(bare, solved(course, tmp_path / "w", "forger"), date="2001-01-01T00:00:00+00:00")
    record_activity(f"{ORG}/{A}-forger", push_event(sha, at(hours=2)))
    for policy in ("cutoff", "zero", "penalty:10/day,max=50"):
        rule = deadlines.make_rule(z(DL), 0, None, policy)
        counts, data, lines = collect(course, repos, tmp_path / policy.replace(":", "_").replace("/", "_"),
                                      ["forger"], rule=rule, api_url=api)
        entry = data["forger"]
        pushed = entry["late_head"] if policy == "cutoff" else entry
        assert (pushed["sha"], pushed["pushed_at"][:19], pushed["pushed_source"]) == (
            sha, z(at(hours=2))[:19], "github-activity")
        decision = rule.decide("forger", pushed["pushed_at"], pushed["pushed_source"])
        assert decision["late"] is True and decision["late_seconds"] == 7200, policy
        if policy == "cutoff":  # recorded as late, not graded: a report of its own says why
            assert entry["status"] == "late" and not (tmp_path / "cutoff" / "submitted" / "forger").exists()
            rep = json.loads((tmp_path / "cutoff" / "record" / "reports" / f"forger--{A}.json").read_text())
            assert rep["score"] == 0 and "nothing was pushed before the deadline" in rep["notes"][0]
            assert (rep["deadline"]["due"], rep["deadline"]["late"], rep["deadline"]["pushed_source"]) == (
                z(DL), True, "github-activity")  # the student sees the deadline and why
        else:  # the newest version is graded; timestamp.txt holds GitHub's push time, not the commit date
            run = tmp_path / policy.replace(":", "_").replace("/", "_")
            stamp = (run / "submitted" / "forger" / A / "timestamp.txt").read_text()
            assert stamp.startswith(DL.strftime("%Y-") ) and "2001" not in stamp
            assert decision["penalty_percent"] == (100 if policy == "zero" else 10)
            # graded: every point earned, then the policy on the total (zero: nothing; 2 h late: 10% off, once)
            rep = grade.run(run / "submitted", A, run / "record", jobs=2, root=course, gradebook=False, rule=rule,
                            echo=lambda m: None)[0]
            raw = rep["raw_score"]
            assert raw == rep["max_score"] > 0 and sum(nb["score"] for nb in rep["notebooks"]) == raw
            if policy == "zero":
                assert (rep["late_penalty"], rep["score"]) == (raw, 0)
            else:
                assert rep["late_penalty"] == pytest.approx(0.1 * raw) and rep["score"] == pytest.approx(0.9 * raw)
            d = rep["deadline"]
            assert (d["late"], d["late_seconds"], d["pushed_source"], d["pushed_at"][:19]) == (
                True, 7200, "github-activity", z(at(hours=2))[:19])
    # without the API: the time the course first saw it (now, a day after the deadline): late too
    rule = deadlines.make_rule(z(DL), 0, None, "cutoff")
    _, data, _ = collect(course, repos, tmp_path / "noapi", ["forger"], rule=rule)
    assert data["forger"]["status"] == "late" and data["forger"]["late_head"]["pushed_source"] == "first-seen"


def test_a_late_schedule_keeps_a_push_on_time(course, repos, api, tmp_path):
    bare = new_repo(repos, "punctual")
    sha = push_tree(bare, solved(course, tmp_path / "w", "punctual"))
    filler = [push_event("f" * 40, at(hours=-30 + i)) for i in range(5)]  # the push is on the last page
    record_activity(f"{ORG}/{A}-punctual", *filler, push_event(sha, at(minutes=-2)))
    rule = deadlines.make_rule(z(DL), 0, None, "cutoff")
    counts, data, _ = collect(course, repos, tmp_path, ["punctual"], rule=rule, api_url=api)
    entry = data["punctual"]
    assert (entry["status"], entry["sha"], entry["pushed_source"]) == ("collected", sha, "github-activity")
    assert entry["pushed_at"] == z(at(minutes=-2)).replace("Z", ".000000Z")
    assert (tmp_path / "submitted" / "punctual" / A / "timestamp.txt").read_text() == \
        at(minutes=-2).strftime("%Y-%m-%d %H:%M:%S.000000 UTC\n")
    assert rule.decide("punctual", entry["pushed_at"], entry["pushed_source"])["late"] is False


def test_a_force_push_after_the_deadline_keeps_the_version_pushed_on_time(course, repos, api, tmp_path):
    rule = deadlines.make_rule(z(DL), 0, None, "cutoff")
    work = solved(course, tmp_path / "w", "forcer")
    bare = new_repo(repos, "forcer")
    v1 = push_tree(bare, work)
    record_activity(f"{ORG}/{A}-forcer", push_event(v1, at(hours=-1)))
    _, data, _ = collect(course, repos, tmp_path, ["forcer"], rule=rule, api_url=api)
    assert (data["forcer"]["status"], data["forcer"]["sha"]) == ("collected", v1)
    # a rewritten history, force-pushed after the deadline
    shutil.rmtree(work / ".git")
    shutil.copy2(course / "release" / A / "sigmoid_mlp.ipynb", work / "sigmoid_mlp.ipynb")
    v2 = push_tree(bare, work, message="rewritten", date="2001-01-01T00:00:00+00:00")
    assert sh(["git", "rev-parse", "main"], cwd=bare).strip() == v2
    record_activity(f"{ORG}/{A}-forcer", push_event(v2, at(hours=3), kind="force_push", before=v1))
    counts, data, lines = collect(course, repos, tmp_path, ["forcer"], rule=rule, api_url=api,
                                  dest=tmp_path / "submitted2")
    entry = data["forcer"]
    assert (entry["status"], entry["sha"], entry["late_head"]["sha"]) == ("collected", v1, v2)
    assert counts["fetched"] == 0 and not (tmp_path / "submitted2" / "forcer").exists()
    assert any("pushed after the deadline (cutoff): still grading" in line for line in lines)
    counts, _, _ = collect(course, repos, tmp_path, ["forcer"], rule=rule, api_url=api, dest=tmp_path / "s3")
    assert (counts["changed"], counts["fetched"]) == (0, 0)  # the late head is not looked at again
    # under a new policy the late head is graded (with GitHub's push time)
    rule2 = deadlines.make_rule(z(DL), 0, None, "penalty:10/day")
    _, data, _ = collect(course, repos, tmp_path, ["forcer"], rule=rule2, api_url=api, dest=tmp_path / "s4")
    assert (data["forcer"]["sha"], data["forcer"]["pushed_at"][:19]) == (v2, z(at(hours=3))[:19])
    assert "late_head" not in data["forcer"] and (tmp_path / "s4" / "forcer" / A / "sigmoid_mlp.ipynb").is_file()
    # a first collect after both pushes fetches the head at the deadline (GitHub's activity says which)
    counts, data, _ = collect(course, repos, tmp_path / "fresh", ["forcer"], rule=rule, api_url=api)
    entry = data["forcer"]
    assert (entry["status"], entry["sha"], entry["late_head"]["sha"]) == ("collected", v1, v2)
    got = (tmp_path / "fresh" / "submitted" / "forcer" / A / "sigmoid_mlp.ipynb").read_bytes()
    assert got == sh(["git", "show", f"{v1}:sigmoid_mlp.ipynb"], cwd=bare).encode()


def test_an_extension_is_on_time_after_the_common_deadline(course, repos, api, tmp_path):
    bare = new_repo(repos, "extended")
    sha = push_tree(bare, solved(course, tmp_path / "w", "extended"))
    record_activity(f"{ORG}/{A}-extended", push_event(sha, at(hours=5)))
    rule = deadlines.make_rule(z(DL), 0, None, "cutoff")
    _, data, _ = collect(course, repos, tmp_path, [f"extended,{z(at(hours=12))}"], rule=rule, api_url=api)
    assert (data["extended"]["status"], data["extended"]["sha"]) == ("collected", sha)
    ext = tmp_path / "ext.csv"
    ext.write_text(f"student,deadline\nextended,{z(at(hours=12))}\n")
    decision = deadlines.make_rule(z(DL), 0, ext, "cutoff").decide("extended", data["extended"]["pushed_at"],
                                                                     "github-activity")
    assert (decision["late"], decision["extension"]) == (False, True)


def test_bad_options_change_nothing(course, repos, api, tmp_path):
    bare = new_repo(repos, "careful")
    push_tree(bare, solved(course, tmp_path / "w", "careful"))
    (tmp_path / "roster.csv").write_text("student\ncareful\n")
    record = tmp_path / "record"
    url = f"file://{repos}/{{assignment}}-{{student}}.git"
    base = ["collect", tmp_path / "roster.csv", "--assignment", A, "--dest", tmp_path / "sub", "--record", record,
            "--org", ORG, "--url-template", url, "--api-url", api]
    cli(*base, "--deadline", z(DL), cwd=course)
    before = {p.name: p.read_bytes() for p in record.rglob("*") if p.is_file()}
    bad_ext = tmp_path / "ext.csv"
    bad_ext.write_text("student,deadline\ncareful,2026-13-45\n")
    for args, message in [
            (["--deadline", "2026-11-20T23:59"], "has no time zone"),
            (["--deadline", "friday"], "is not an ISO 8601 time"),
            (["--deadline", z(DL), "--late-policy", "penalty:ten/day"], "--late-policy 'penalty:ten/day': use cutoff"),
            (["--deadline", z(DL), "--extensions", bad_ext], "--extensions ext.csv, line 2:"),
            (["--deadline", z(DL), "--extensions", tmp_path / "none.csv"], "cannot read it"),
            (["--late-policy", "zero"], "need --deadline")]:
        proc = cli(*base, *args, cwd=course, check=False)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert {p.name: p.read_bytes() for p in record.rglob("*") if p.is_file()} == before
    proc = cli("grade", tmp_path / "sub", "--assignment", A, "--out", record, "--deadline", "2026-11-20T23:59",
               cwd=course, check=False)
    assert proc.returncode == 2 and "has no time zone" in proc.stderr
    assert {p.name: p.read_bytes() for p in record.rglob("*") if p.is_file()} == before


# -- a new rule in the pull loop re-decides every student (nbgrader #723) --------------------------

def test_a_changed_rule_re_decides_every_student_in_the_pull_loop(course, repos, api, tmp_path):
    """Cycles collect -> grade on one record; nobody pushes after the first, only the rule changes."""
    shas = {}
    for student, when in (("keen", at(hours=-3)), ("tardy", at(hours=12))):
        shas[student] = push_tree(new_repo(repos, student), solved(course, tmp_path / "w", student))
        record_activity(f"{ORG}/{A}-{student}", push_event(shas[student], when))
    record = tmp_path / "record"
    penalty = deadlines.make_rule(z(DL), 0, None, "penalty:10/day")
    moved = deadlines.make_rule(z(at(days=1)), 0, None, "penalty:10/day")  # a day later: tardy is on time

    def cycle(n, rule):
        sub = tmp_path / f"submitted{n}"
        counts, data, lines = collect(course, repos, tmp_path / f"c{n}", ["keen", "tardy"], rule=rule, api_url=api,
                                      record=record, dest=sub)
        got = {"counts": counts, "data": data, "collect": lines, "grade": [],
               "submitted": sorted(p.name for p in sub.iterdir()) if sub.is_dir() else []}
        if sub.is_dir():
            grade.run(sub, A, record, jobs=2, root=course, gradebook=False, rule=rule, echo=got["grade"].append)
        got["reports"] = {s: json.loads(report.report_path(record, s, A).read_text()) for s in ("keen", "tardy")}
        got["sheet"] = {r["student"]: r for r in csv.DictReader(io.StringIO((record / "grades.csv").read_text()))}
        got["page"] = (report.feedback_folder(record, "tardy", A) / "sigmoid_mlp.html").read_text()
        got["readme"] = giveback.readme(got["reports"]["tardy"], None)
        return got

    def penalised(c):  # tardy 12 h late under penalty:10/day: 10% of the points off the total, once
        keen, tardy = c["reports"]["keen"], c["reports"]["tardy"]
        raw = tardy["raw_score"]
        assert raw == tardy["max_score"] == keen["score"] > 0 and keen["late_penalty"] == 0
        assert tardy["late_penalty"] == pytest.approx(0.1 * raw) and tardy["score"] == pytest.approx(0.9 * raw)
        d = tardy["deadline"]
        assert (d["due"], d["late"], d["late_seconds"], d["penalty_percent"]) == (z(DL), True, 12 * 3600, 10)
        row = c["sheet"]["tardy"]
        assert (row["due"], row["late_seconds"], float(row["late_penalty"]), float(row["total"])) == (
            z(DL), str(12 * 3600), pytest.approx(0.1 * raw), pytest.approx(0.9 * raw))
        assert f"Due: {z(DL)}" in c["page"] and "Late by 12 h 0 min: 10% of the points taken off" in c["page"]
        assert "* Late penalty: -" in c["readme"]
        return raw

    one = cycle(1, penalty)
    assert one["submitted"] == ["keen", "tardy"] and not any("rule changed" in line for line in one["collect"])
    raw = penalised(one)
    assert json.loads((record / "collected.json").read_text())["rule"] == {
        "due": DL.strftime("%Y-%m-%dT%H:%M:%S.000000Z"), "grace": 0.0, "policy": "penalty:10/day", "extensions": {}}

    # grade alone under the new rule, tardy absent from submitted/: their kept report is stale, and grade says so
    alone, out = tmp_path / "alone", tmp_path / "alone-record"
    shutil.copytree(tmp_path / "submitted1" / "keen", alone / "keen")
    shutil.copytree(record, out)
    lines = []
    grade.run(alone, A, out, jobs=2, root=course, gradebook=False, rule=moved, echo=lines.append)
    assert ("warning: 1 kept report(s) of students not in this run were decided under another deadline rule: "
            "collect again: it re-fetches everyone when the rule changes, or give their submissions") in lines
    lines.clear()
    grade.run(alone, A, out, jobs=2, root=course, gradebook=False, rule=penalty, echo=lines.append)
    assert not any("decided under another deadline rule" in line for line in lines)  # the same rule: nothing stale

    # the deadline moves a day later; nobody pushed: everyone is collected again and re-decided
    two = cycle(2, moved)
    assert two["collect"][0] == "the deadline rule changed: collecting every student again"
    assert (two["counts"]["changed"], two["counts"]["collected"], two["counts"]["fetched"]) == (2, 2, 2)
    assert two["submitted"] == ["keen", "tardy"]
    assert {s: (e["sha"], e["pushed_source"]) for s, e in two["data"].items()} == {
        s: (shas[s], "github-activity") for s in shas}
    assert "graded 2 student(s)" in two["grade"][-1]
    tardy = two["reports"]["tardy"]
    assert (tardy["score"], tardy["raw_score"], tardy["late_penalty"]) == (raw, raw, 0)
    d = tardy["deadline"]
    assert (d["due"], d["late"], d["late_seconds"], d["penalty_percent"]) == (z(at(days=1)), False, 0, 0)
    row = two["sheet"]["tardy"]
    assert (row["due"], row["late_seconds"], float(row["late_penalty"]), float(row["total"])) == (
        z(at(days=1)), "0", 0, pytest.approx(raw))
    assert "Late by" not in two["page"] and f"Due: {z(at(days=1))}" in two["page"] and "On time" in two["page"]
    assert "Late penalty" not in two["readme"] and "On time" in two["readme"]

    # the same rule again: nothing to collect
    three = cycle(3, moved)
    assert (three["counts"]["changed"], three["counts"]["fetched"], three["submitted"]) == (0, 0, [])
    assert not any("rule changed" in line for line in three["collect"])

    # back to the first deadline: the penalty is back; then the rule is removed: every penalty goes
    assert penalised(cycle(4, penalty)) == raw
    five = cycle(5, None)
    assert five["collect"][0] == "the deadline rule changed: collecting every student again"
    assert (five["counts"]["collected"], five["submitted"]) == (2, ["keen", "tardy"])
    assert json.loads((record / "collected.json").read_text())["rule"] is None
    tardy = five["reports"]["tardy"]
    assert (tardy["score"], tardy["late_penalty"], tardy["deadline"]) == (raw, 0, None)
    row = five["sheet"]["tardy"]
    assert (row["due"], row["late_seconds"], float(row["late_penalty"]), float(row["total"])) == (
        "", "", 0, pytest.approx(raw))
    assert "Due:" not in five["page"] and "Late" not in five["page"] and "Due:" not in five["readme"]
    # a record written before collect kept its rule: every student is collected again, once
    kept = json.loads((record / "collected.json").read_text())
    del kept["rule"]
    (record / "collected.json").write_text(json.dumps(kept))
    counts, _, lines = collect(course, repos, tmp_path / "c6", ["keen", "tardy"], api_url=api, record=record,
                               dest=tmp_path / "submitted6")
    assert lines[0] == ("the record does not say which deadline rule it was collected under: collecting every "
                        "student again")
    assert (counts["changed"], counts["collected"]) == (2, 2)
    counts, _, lines = collect(course, repos, tmp_path / "c7", ["keen", "tardy"], api_url=api, record=record,
                               dest=tmp_path / "submitted7")
    assert (counts["changed"], counts["fetched"]) == (0, 0) and "rule" not in lines[0]


# -- grade: the penalty, once, and nbgrader agrees -------------------------------------------

@pytest.fixture(scope="module")
def own_course(tmp_path_factory):
    """A course of its own: its gradebook gets a due date and penalties."""
    dest = tmp_path_factory.mktemp("deadline-course")
    shutil.copy2(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    shutil.copytree(ROOT / "source" / A, dest / "source" / A)
    course_mod.nbgrader_command(dest, "generate_assignment", A, "--force")
    return dest


def stamp(folder: Path, when: dt.datetime) -> None:
    (folder / "timestamp.txt").write_text(when.strftime("%Y-%m-%d %H:%M:%S.%f UTC\n"))


def export(root: Path) -> dict:
    course_mod.nbgrader_command(root, "export", "--to", str(root / "export.csv"))
    rows = csv.DictReader(io.StringIO((root / "export.csv").read_text()))
    return {r["student_id"]: r for r in rows if r["assignment"] == A}


def test_penalty_once_on_the_total_and_nbgrader_export_agrees(own_course, tmp_path):
    root = own_course
    sub = tmp_path / "submitted"
    for student, when in [("late36", at(hours=36)), ("ontime", at(hours=-1)), ("ext", at(hours=36))]:
        write_student(root, sub, A, student)
        stamp(sub / student / A, when)
    ext = tmp_path / "ext.csv"
    ext.write_text(f"student,deadline\next,{z(at(days=2))}\n")
    out = tmp_path / "out"
    rule = deadlines.make_rule(z(DL), 0, ext, "penalty:10/day,max=50")
    lines = []
    reps = {r["student"]: r for r in grade.run(sub, A, out, jobs=2, root=root, rule=rule, echo=lines.append)}
    late = reps["late36"]
    raw = late["raw_score"]
    assert raw == late["max_score"] > 0
    assert late["late_penalty"] == pytest.approx(0.2 * raw) and late["score"] == pytest.approx(0.8 * raw)
    assert sum(nb["score"] for nb in late["notebooks"]) == raw  # each notebook keeps its points: charged once
    d = late["deadline"]
    assert (d["late"], d["late_seconds"], d["penalty_percent"], d["pushed_source"]) == (True, 36 * 3600, 20,
                                                                                        "timestamp.txt")
    assert reps["ontime"]["late_penalty"] == 0 and reps["ontime"]["score"] == raw
    assert (reps["ext"]["deadline"]["late"], reps["ext"]["deadline"]["extension"], reps["ext"]["score"]) == (
        False, True, raw)
    rows = export(root)
    assert float(rows["late36"]["score"]) == pytest.approx(late["score"], abs=1e-9)
    assert float(rows["late36"]["late_submission_penalty"]) == pytest.approx(0.2 * raw, abs=1e-9)
    assert float(rows["ext"]["score"]) == pytest.approx(raw) and float(rows["ontime"]["score"]) == pytest.approx(raw)

    # nbgrader's own late-penalty step, with the course's plug-in, charges the same (nbgrader autograde agrees)
    import nbformat
    from nbgrader.preprocessors import AssignLatePenalties
    from traitlets.config import Config

    config = Config()
    config.AssignLatePenalties.plugin_class = "autograder.course.late.CourseLatePolicy"
    config.CourseLatePolicy.policy = "penalty:10/day,max=50"
    for student in ("late36", "ext", "ontime"):
        for nb in late["notebooks"]:
            resources = {"nbgrader": {"notebook": nb["notebook"], "assignment": A, "student": student,
                                      "db_url": course_mod.db_url(root)}}
            AssignLatePenalties(config=config).preprocess(nbformat.v4.new_notebook(), resources)
    again = export(root)
    for student in ("late36", "ext", "ontime"):
        assert float(again[student]["score"]) == pytest.approx(reps[student]["score"], abs=1e-9), student

    # shown everywhere
    page = (report.feedback_folder(out, "late36", A) / f"{late['notebooks'][0]['notebook']}.html").read_text()
    assert f"Due: {z(DL)}" in page and "Late by 1 d 12 h 0 min: 20% of the points taken off" in page
    summary = (out / "summary.md").read_text()
    assert f"| late36 | {z(DL)} | " in summary and "| 1 d 12 h 0 min | 20% |" in summary
    assert f"| ext | {z(at(days=2))} (extension) | " in summary
    sheet = {r["student"]: r for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}
    assert (sheet["late36"]["late_seconds"], float(sheet["late36"]["late_penalty"])) == (str(36 * 3600),
                                                                                        pytest.approx(0.2 * raw))
    readme = giveback.readme(late, None)
    assert f"* Due: {z(DL)}; late policy: penalty:10/day,max=50" in readme and "* Late penalty: -" in readme
    assert "source/" not in readme

    # a new rule gives the new result, and counts as a change (regraded, not reused)
    lines.clear()
    reps = {r["student"]: r for r in grade.run(sub, A, out, jobs=2, root=root, echo=lines.append,
                                               rule=deadlines.make_rule(z(DL), 0, None, "zero"))}
    assert "graded 3 student(s)" in lines[-1]
    assert (reps["late36"]["score"], reps["ext"]["score"], reps["ontime"]["score"]) == (0, 0, raw)
    assert float(export(root)["late36"]["score"]) == 0
    reps = {r["student"]: r for r in grade.run(sub, A, out, jobs=2, root=root, echo=lines.append)}
    assert "graded 3 student(s)" in lines[-1]
    assert reps["late36"]["score"] == raw and reps["late36"]["deadline"] is None  # no penalty left behind
    rows = export(root)
    assert float(rows["late36"]["score"]) == pytest.approx(raw)
    assert float(rows["late36"]["late_submission_penalty"]) == 0
    lines.clear()
    grade.run(sub, A, out, jobs=2, root=root, echo=lines.append)
    assert "reused 3" in lines[-1]  # the same rule again: nothing to regrade


def test_grade_takes_the_push_source_from_the_record(tmp_path):
    (tmp_path / "collected.json").write_text(json.dumps({"students": {
        "a": {"pushed_at": "2026-11-20T23:58:01.000000Z", "pushed_source": "github-activity"}}}))
    sources = grade._pushed_sources(tmp_path)
    assert grade._push_source(sources, "a", "2026-11-20T23:58:01.000000Z") == "github-activity"
    assert grade._push_source(sources, "a", "2026-11-21T00:00:00.000000Z") == "timestamp.txt"  # not collect's time
    assert grade._push_source(sources, "b", "2026-11-20T23:58:01.000000Z") == "timestamp.txt"
    assert grade._push_source(sources, "a", None) is None
