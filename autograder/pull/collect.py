"""Collect: compare each student's repository head with the record, fetch only what changed.

The change check (``git ls-remote``) needs nothing but the standard library and git.
Where push times come from GitHub's API, the students collected before are first asked of its
GraphQL endpoint, 100 per request (:func:`_heads_from_api`): only those whose head is not the
commit collected before, and everyone when the API fails, cost an ``ls-remote``.
A changed repository is fetched shallow into a scratch bare repository (hooks,
submodules and LFS off), checked against the size and file-count limits, and its
top-level notebooks are read with ``git cat-file``: only regular files with safe
names are written to ``submitted/<student>/<assignment>/``, with nbgrader's
``timestamp.txt`` holding the push time the course trusts (never the commit's own date).
A student with nothing to grade (missing, empty, no notebooks, refused, nothing pushed
before a cut-off) gets a "not submitted" report of their own in the record.

Push times: for a repository on GitHub (a ``github.com`` URL with a token, or any URL when
``api_url`` is given), the earliest push that made the commit the head of the default
branch, from GitHub's activity API (``pushed_source: "github-activity"``); otherwise, or
when the API fails, when the course first saw the commit (``"first-seen"``). Under the
``cutoff`` policy of :mod:`autograder.course.deadlines`, a head pushed after the student's
deadline is recorded as ``late_head`` and not collected: the version pushed last on time
(the one collected before, or, from the activity API, the head at the deadline) stays graded.

Exactly what was seen: the commit fetched is the SHA that ``ls-remote`` returned (fetched by
its name and checked), so a push between the two is collected next time, with its own times.
The same ``ls-remote`` also reads the tip of each student's feedback branch (``feedback_tip``
in the record, for ``return``); a new tip alone is not a change.

A new deadline rule: the record keeps the rule collect ran under (``Rule.class_key``). When
this run's rule differs, every student with a readable repository is fetched again (same
choice of commit) and written to ``submitted/``, so that ``grade`` re-decides them all, and a
"not submitted" report is written again with the new deadline.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from autograder import report
from autograder.course import CourseError, deadlines, make_folder, not_a_file

from . import github, record, roster
from .git import Git, GitError, TooBig

#: a notebook file name collect copies: no folder, no leading dot, printable ASCII only
SAFE_NOTEBOOK = re.compile(r"[A-Za-z0-9_(][A-Za-z0-9 _().-]{0,119}\.ipynb", re.ASCII)
REGULAR = ("100644", "100755")


@dataclasses.dataclass
class Limits:
    """Per-repository limits of collect."""

    max_bytes: int = 50 * 2**20  #: the files of the commit, all together
    max_files: int = 2000  #: files in the commit (every folder)
    timeout: float = 300  #: seconds for one repository's fetch


@dataclasses.dataclass
class Outcome:
    """What collect found for one student this run."""

    student: str
    status: str  #: collected | unchanged | missing | empty | no-notebooks | refused
    reason: str | None = None  #: for the student, when nothing is graded (no student-controlled text)
    sha: str | None = None
    files: dict = dataclasses.field(default_factory=dict)  #: notebook name -> bytes (collected only)
    notes: list = dataclasses.field(default_factory=list)  #: notebooks refused, and why
    detail: str | None = None  #: for the console only (git's scrubbed message)


def collect(roster_path: Path, assignment: str, dest: Path, out: Path, *, root: Path, org: str | None = None,
            url_template: str = roster.DEFAULT_URL, jobs: int = 8, limits: Limits | None = None,
            token: str | None = None, api_url: str | None = None, rule: deadlines.Rule | None = None,
            feedback_branch: str = "feedback", echo=print) -> dict:
    """Collect the changed submissions of ``assignment``; update the record ``out``.

    Args:
        roster_path: the roster CSV.
        assignment: the assignment.
        dest: nbgrader's ``submitted/`` folder to write into.
        out: the record folder (``grade --out``).
        root: the course root (``release/<assignment>/`` names the notebooks).
        org: the organisation of default repository names.
        url_template: clone URL template.
        jobs: repositories checked and fetched at once.
        limits: per-repository limits.
        token: the git token (None: no authentication).
        api_url: GitHub's REST API for push times (None: the public API for ``github.com`` URLs when
            there is a token; no API otherwise).
        rule: the deadline rule (None: no deadline); the roster's ``extension`` column adds to it.
        feedback_branch: the branch ``return`` writes; its tip is recorded as ``feedback_tip``.
        echo: console lines.

    Returns:
        Counts: ``students``, ``changed`` (record entries that changed; at least 1 when the deadline
        rule did; a new ``feedback_tip`` alone is no change), ``collected`` (submissions written to
        ``dest``), ``missing``, ``empty``, ``no_notebooks``, ``refused``, ``fetched``.
    """
    if roster.valid_student(assignment):
        raise CourseError(f"--assignment {roster.printable(assignment)!r} is not a valid assignment name")
    if jobs < 1:
        raise CourseError("--jobs must be at least 1")
    if roster.valid_student(feedback_branch.replace("/", "-")):
        raise CourseError(f"--feedback-branch {roster.printable(feedback_branch)!r} is not a usable branch name")
    roster.check_template(url_template)
    limits = limits or Limits()
    entries = roster.read(roster_path, assignment=assignment, org=org, echo=echo)
    rule = with_roster_extensions(rule or deadlines.Rule(), entries)
    notebooks = record.expected_notebooks(root, assignment)
    out, dest = Path(out), Path(dest)
    make_folder(out, "--record")
    not_a_file(dest, "--dest")
    previous = record.load_collected(out, assignment)
    rule_known, recorded_rule = record.collected_rule(out)
    rule_key = rule.class_key()
    again = bool(previous) and (not rule_known or recorded_rule != rule_key)  # re-decide every student
    if again:
        echo("the deadline rule changed: collecting every student again" if rule_known else
             "the record does not say which deadline rule it was collected under: collecting every student again")
    git = Git(token)
    urls = {e.student: roster.clone_url(url_template, e, org=org, assignment=assignment) for e in entries}
    feedback_ref = f"refs/heads/{feedback_branch}"

    confirmed = _heads_from_api(entries, previous, urls, api_url, token, feedback_ref, echo) if not again else {}

    def head(entry):
        seen = record.iso(record.now())  # when the course looked: the first-seen time of a new commit
        if entry.student in confirmed:  # the API says the head is the commit collected before: no git process
            sha, tip = confirmed[entry.student]
            return sha, None, seen, tip
        try:  # one git process for both refs
            refs = git.ls_remote_refs(urls[entry.student], ["HEAD", feedback_ref])
            return refs["HEAD"], None, seen, refs[feedback_ref]
        except GitError as exc:
            return None, str(exc), seen, None

    counts = dict.fromkeys(["changed", "collected", "missing", "empty", "no_notebooks", "refused", "fetched"], 0)
    students = dict(previous)
    to_fetch = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        heads = dict(zip([e.student for e in entries], pool.map(head, entries)))
    for entry in entries:
        sha, error, seen, _ = heads[entry.student]
        before = previous.get(entry.student) or {}
        if error is not None or sha is None:
            status = "missing" if error is not None else "empty"
            counts[status] += 1
            why = ("the repository was not found or could not be read" if status == "missing"
                   else "the repository is empty (nothing was pushed)")
            line = f"{entry.student}: {entry.repository}: {why}"
            echo(line + (f" ({error})" if error else ""))
            if before.get("sha") and before.get("status") == "collected":
                echo(f"{entry.student}: keeping the submission collected earlier ({before['sha'][:12]})")
                continue
            _set(students, counts, entry, Outcome(entry.student, status, why), out, assignment, notebooks, seen,
                 rule=rule, force=again)
            continue
        if not again and before.get("sha") == sha and before.get("repository") == entry.repository:
            if before.get("status") in ("refused", "no-notebooks"):
                counts["refused" if before["status"] == "refused" else "no_notebooks"] += 1
            continue  # unchanged: not fetched
        if not again and _still_late(before, sha, entry, rule):
            continue  # the late head seen before: still late under the cut-off, still not graded
        to_fetch.append((entry, sha))

    def timing(item):
        entry, _ = item
        api = _api_for(urls[entry.student], api_url, token)
        if not api:
            return None, None
        try:
            return github.pushes(api, entry.repository, token=token)[1], None
        except github.ApiError as exc:
            return None, git.scrub(str(exc))

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        timings = list(pool.map(timing, to_fetch))
    fetch_items = []
    for (entry, sha), (push_list, api_error) in zip(to_fetch, timings):
        before = previous.get(entry.student) or {}
        seen = (before.get("history") or {}).get(sha) or heads[entry.student][2]
        if api_error:
            echo(f"{entry.student}: push time from when the course first saw the commit ({api_error})")
        pushed = _push_time(push_list, sha, seen)
        effective = rule.effective(entry.student)
        if effective is None or rule.policy.kind != "cutoff" or _utc(pushed[0]) <= effective:
            fetch_items.append((entry, sha, {sha: pushed}, None))  # the very commit ls-remote saw
            continue
        late_head = {"sha": sha, "pushed_at": pushed[0], "pushed_source": pushed[1]}
        target = github.last_before(push_list, effective) if push_list else None
        kept = before.get("sha") if (before.get("status") == "collected" and before.get("sha") not in (None, sha)
                                     and _pushed_by(before, effective)) else None
        if kept and target in (None, kept):
            echo(f"{entry.student}: {sha[:12]} was pushed after the deadline (cutoff): still grading "
                 f"{kept[:12]}, pushed on time")
            if again:  # the new rule decides it again: collected again, written to submitted/ for grade
                fetch_items.append((entry, kept, {kept: (before.get("pushed_at"), before.get("pushed_source"))},
                                    late_head))
            else:
                students[entry.student] = {**before, "late_head": late_head}
                counts["changed"] += 1
            continue
        if target:
            echo(f"{entry.student}: {sha[:12]} was pushed after the deadline (cutoff): collecting {target[:12]}, "
                 f"the head at the deadline")
            when = github.first_push(push_list, target)
            fetch_items.append((entry, target, {target: (record.iso(when), "github-activity")}, late_head))
            continue
        echo(f"{entry.student}: {sha[:12]} was pushed after the deadline (cutoff) and nothing before it: not graded")
        outcome = Outcome(entry.student, "late", "nothing was pushed before the deadline (cut-off policy: later "
                                                 "pushes are not graded)")
        _set(students, counts, entry, outcome, out, assignment, notebooks, seen, dest=dest, late_head=late_head,
             rule=rule, force=again)

    with tempfile.TemporaryDirectory(prefix="autograder-collect-") as scratch:
        def fetch(item):
            entry, ref, _, _ = item
            return _fetch_one(git, urls[entry.student], entry.student, Path(scratch) / f"r{id(item)}", limits,
                              {f"{name}.ipynb" for name in notebooks}, ref=ref)

        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            for outcome in pool.map(fetch, fetch_items):
                counts["fetched"] += 1
                entry, _, pushed, late_head = next(item for item in fetch_items if item[0].student == outcome.student)
                if outcome.status == "collected":
                    counts["collected"] += 1
                    _write_submission(dest, assignment, outcome)
                else:
                    counts["refused" if outcome.status == "refused" else "no_notebooks"] += 1
                    echo(f"{entry.student}: {entry.repository}: not collected: {outcome.reason}"
                         + (f" ({outcome.detail})" if outcome.detail else ""))
                for note in outcome.notes:
                    echo(f"{entry.student}: {note}")
                _set(students, counts, entry, outcome, out, assignment, notebooks, heads[entry.student][2], dest=dest,
                     pushed=pushed.get(outcome.sha), late_head=late_head, rule=rule, force=again)
    for entry in entries:  # the feedback branch as seen now, for `return` (not a change by itself)
        _, error, _, tip = heads[entry.student]
        if error is None and entry.student in students:
            students[entry.student] = {**students[entry.student],
                                       "feedback_tip": {"branch": feedback_branch, "sha": tip}}
    if again and not counts["changed"]:
        counts["changed"] = 1  # the rule itself: the record must be published with it
    record.save_collected(out, assignment, students, rule=rule_key)
    counts["students"] = len(entries)
    echo(f"collect: {len(entries)} students, {counts['changed']} changed, {counts['missing']} missing, "
         f"{counts['refused']} refused, {counts['empty']} empty, {counts['no_notebooks']} without notebooks")
    github_output = os.environ.get("GITHUB_OUTPUT")
    if github_output:
        with open(github_output, "a", encoding="utf-8") as fh:
            fh.write(f"changed={counts['changed']}\ncollected={counts['collected']}\n")
    return counts


def _still_late(before: dict, sha: str, entry, rule: deadlines.Rule) -> bool:
    """Whether ``sha`` is the late head recorded before and the rule still refuses it (cut-off, still late)."""
    late = before.get("late_head") or {}
    if late.get("sha") != sha or before.get("repository") != entry.repository or rule.policy.kind != "cutoff":
        return False
    effective = rule.effective(entry.student)
    try:
        return effective is not None and _utc(str(late.get("pushed_at"))) > effective
    except CourseError:
        return False


def _pushed_by(before: dict, effective) -> bool:
    """Whether the version recorded in ``before`` was pushed by ``effective`` (the student's deadline with grace)."""
    try:
        return _utc(str(before.get("pushed_at"))) <= effective
    except CourseError:
        return False


def _heads_from_api(entries: list, previous: dict, urls: dict, api_url: str | None, token: str | None,
                    feedback_ref: str, echo) -> dict:
    """student -> (head, feedback tip) for each student whose head GitHub's API says is still the commit
    collected before; everyone else (new, changed, missing, empty, the API silent or odd) is asked by git.

    Most students of a cycle changed nothing: one GraphQL request per 100 of them replaces as many
    ``ls-remote`` (over HTTPS, a TLS handshake each). Asked only where push times are asked (a
    token and github.com URLs, or ``--api-url``); an API that fails costs one line, and git asks everyone.
    """
    by_api: dict = {}
    for entry in entries:
        before = previous.get(entry.student) or {}
        api = _api_for(urls[entry.student], api_url, token)
        if api and token and before.get("sha") and before.get("repository") == entry.repository:
            by_api.setdefault(api, []).append(entry)
    confirmed = {}
    for api, group in by_api.items():
        try:
            answer = github.heads(api, [e.repository for e in group], feedback_ref, token=token)
        except github.ApiError as exc:
            echo(f"collect: every head asked by git ({Git(token).scrub(str(exc))})")
            continue
        for entry in group:
            head, tip = answer.get(entry.repository, (None, None))
            if head is not None and head == previous[entry.student]["sha"]:
                confirmed[entry.student] = (head, tip)
    return confirmed


def _api_for(url: str, api_url: str | None, token: str | None) -> str | None:
    """The REST API to ask for push times of ``url``'s repository, or None (first-seen times)."""
    if api_url:
        return api_url
    if token and url.startswith("https://github.com/"):
        return github.DEFAULT_API
    return None


def _push_time(push_list: list | None, sha: str, seen: str) -> tuple[str, str]:
    """(push time, source): GitHub's earliest push that made ``sha`` the head, else first seen."""
    when = github.first_push(push_list, sha) if push_list else None
    return (record.iso(when), "github-activity") if when is not None else (seen, "first-seen")


def _utc(text: str):
    return deadlines.parse_time(text, "push time")


def with_roster_extensions(rule: deadlines.Rule, entries: list) -> deadlines.Rule:
    """``rule`` plus the roster's ``extension`` column (an ``--extensions`` file wins for a student in both).

    The rule collect decides under; ``autograder cycle`` gives grade the same one.
    """
    from_roster = {e.student: e.extension for e in entries if e.extension}
    if not from_roster:
        return rule
    if rule.due is None:
        raise CourseError("the roster has an 'extension' column: give --deadline too")
    given = dict(rule.extensions)
    merged = {s: deadlines.parse_time(v, f"roster: extension of {s}:") for s, v in from_roster.items()}
    merged.update(given)
    return dataclasses.replace(rule, extensions=tuple(sorted(merged.items())))


def _set(students: dict, counts: dict, entry, outcome: Outcome, out: Path, assignment: str, notebooks: dict,
         seen: str, dest: Path | None = None, pushed: tuple | None = None, late_head: dict | None = None,
         rule: deadlines.Rule | None = None, force: bool = False) -> None:
    """Record ``outcome``; write a "not submitted" report when there is nothing to grade.

    ``force`` (a new deadline rule): count it as a change, and write the report again, even when the
    entry is the same as before.
    """
    before = students.get(entry.student) or {}
    history = dict(before.get("history") or {})
    seen_at = None
    if outcome.sha:
        seen_at = history.get(outcome.sha) or seen
        history[outcome.sha] = seen_at
        if len(history) > record.MAX_HISTORY:
            history = dict(sorted(history.items(), key=lambda kv: kv[1])[-record.MAX_HISTORY:])
    pushed = pushed or ((seen_at, "first-seen") if seen_at else (None, None))
    entry_record = {
        "repository": entry.repository, "status": outcome.status, "reason": outcome.reason, "sha": outcome.sha,
        "seen_at": seen_at, "seen_source": "first-seen" if seen_at else None,
        "pushed_at": pushed[0], "pushed_source": pushed[1],
        "notebooks": {name: "sha256:" + hashlib.sha256(data).hexdigest()
                      for name, data in sorted(outcome.files.items())},
        "notes": list(outcome.notes), "history": history,
    }
    if late_head:
        entry_record["late_head"] = late_head
    if "feedback_tip" in before:
        entry_record["feedback_tip"] = before["feedback_tip"]
    if outcome.status == "collected" and dest is not None:
        (Path(dest) / entry.student / assignment / "timestamp.txt").write_text(
            record.nbgrader_timestamp(pushed[0]) + "\n")
    report_missing = not report.report_path(out, entry.student, assignment).exists()
    same = {k: v for k, v in before.items() if k not in ("history", "feedback_tip")} == {
        k: v for k, v in entry_record.items() if k not in ("history", "feedback_tip")}
    if same and not force and not (outcome.status != "collected" and report_missing):
        return
    students[entry.student] = entry_record
    counts["changed"] += 1
    if outcome.status != "collected":
        if dest is not None:
            _remove_submission(dest, entry.student, assignment)
        reason = outcome.reason or "nothing to grade"
        if outcome.notes:
            reason = reason + " (" + "; ".join(outcome.notes) + ")"
        record.write_not_submitted(out, entry.student, assignment, notebooks, reason,
                                   deadline=rule.decide(entry.student, (late_head or {}).get("pushed_at"),
                                                        (late_head or {}).get("pushed_source")) if rule else None)


def _fetch_one(git: Git, url: str, student: str, scratch: Path, limits: Limits, expected: set,
               ref: str) -> Outcome:
    """Fetch the commit ``ref`` (a SHA) of ``url`` into ``scratch`` and read its notebooks."""
    try:
        git.init_bare(scratch)
        sha = git.fetch(scratch, url, ref, depth=1, max_bytes=2 * limits.max_bytes + 2**20,
                        timeout=limits.timeout)
        if sha != ref:  # asked for a commit by its name: that one, or nothing
            return Outcome(student, "refused", "the repository could not be fetched",
                           detail=f"asked for {ref[:12]}, got {sha[:12]}")
        entries = git.tree_entries(scratch, sha, recursive=True)
    except TooBig:
        return Outcome(student, "refused", f"the repository is larger than {limits.max_bytes / 2**20:g} MiB")
    except GitError as exc:
        return Outcome(student, "refused", "the repository could not be fetched", detail=str(exc))
    try:
        if len(entries) > limits.max_files:
            return Outcome(student, "refused", f"the commit has more than {limits.max_files} files", sha=sha)
        total = sum(size for _, kind, _, size, _ in entries if kind == "blob" and size > 0)
        if total > limits.max_bytes:
            return Outcome(student, "refused", f"the commit's files are larger than {limits.max_bytes / 2**20:g} MiB "
                                               f"together", sha=sha)
        chosen, notes = {}, []
        for mode, kind, blob_sha, _, raw in entries:
            if b"/" in raw or not raw.endswith(b".ipynb"):
                continue
            try:
                name = raw.decode("utf-8")
            except UnicodeDecodeError:
                notes.append("a notebook whose name is not UTF-8 was refused")
                continue
            shown = name if name in expected else "a notebook file"  # never echo a name the student chose
            if mode == "120000":
                notes.append(f"{shown} is a symbolic link: refused (only regular files are collected)")
                continue
            if kind != "blob" or mode not in REGULAR:
                notes.append(f"{shown} is not a regular file: refused")
                continue
            if not SAFE_NOTEBOOK.fullmatch(name):
                notes.append("a notebook file with an unusable name was refused (use the released names)")
                continue
            chosen[name] = blob_sha
        contents = git.blobs(scratch, list(chosen.values()))  # one git process for every notebook
        files = {name: contents[blob_sha] for name, blob_sha in chosen.items()}
        if not files:
            status = "refused" if notes else "no-notebooks"
            why = ("no notebook of the assignment could be collected" if notes
                   else "the repository holds no notebook (.ipynb) at its top level")
            return Outcome(student, status, why, sha=sha, notes=notes)
        return Outcome(student, "collected", None, sha=sha, files=files, notes=notes)
    except GitError as exc:
        return Outcome(student, "refused", "the repository could not be read", sha=sha, detail=str(exc))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _remove_submission(dest: Path, student: str, assignment: str) -> None:
    folder = Path(dest) / student / assignment
    if folder.is_symlink():
        folder.unlink()
    elif folder.exists():
        shutil.rmtree(folder)


def _write_submission(dest: Path, assignment: str, outcome: Outcome) -> None:
    """Only regular files, created anew (``O_EXCL``, ``O_NOFOLLOW``) in a fresh folder."""
    _remove_submission(dest, outcome.student, assignment)
    folder = Path(dest) / outcome.student / assignment
    folder.mkdir(parents=True)
    for name, data in outcome.files.items():
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
