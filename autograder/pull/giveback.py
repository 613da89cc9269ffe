"""Return: each student's own feedback, and nobody else's, to the ``feedback`` branch of their repository.

The branch holds ``README.md`` (GitHub shows it on the branch page: score per task,
what failed, the commit graded and when the course first saw it) and the feedback
pages of that student only. ``returned.json`` in the record remembers the commit and
tree pushed to each student: when the branch still points at that commit and the
tree is the same, nothing is pushed (idempotent). Whether it still points there is
what this cycle's ``collect`` saw (``feedback_tip``, from the ``ls-remote`` it runs
anyway), so an unchanged student costs no git process; without that observation the
tip is asked for. A branch the student rewrote or deleted is put back (a new commit,
force-pushed with a lease) by the first return after a collect that saw it. Students
are returned in parallel (``jobs``). Nothing is fetched from a student's branch but
the course's own last feedback commit.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import tempfile
import threading
from pathlib import Path

from autograder import report
from autograder.course import CourseError

from . import github, record, roster
from .git import Git, GitError, flat_tree_sha


@dataclasses.dataclass
class Returned:
    pushed: int = 0
    unchanged: int = 0
    no_report: int = 0
    failed: int = 0
    statuses: int = 0


def _cell(text) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def readme(rep: dict, collected: dict | None) -> str:
    """The feedback branch's ``README.md`` of one report (and what collect recorded)."""
    f = report._fmt
    lines = [f"# Feedback: {rep['assignment']}", "",
             f"Student: **{rep['student']}**", ""]
    if collected and collected.get("sha"):
        lines.append(f"* Commit graded: `{collected['sha']}`")
        if collected.get("seen_at"):
            source = {"first-seen": "when the course first saw it"}.get(collected.get("seen_source"),
                                                                         collected.get("seen_source") or "")
            lines.append(f"* Seen: {collected['seen_at']} ({source})")
    if rep.get("graded_at"):
        lines.append(f"* Graded: {rep['graded_at']}")
    deadline = report.deadline_lines(rep)
    if deadline:
        lines += [f"* {_cell(x)}" for x in deadline]
    elif collected and collected.get("pushed_at"):
        source = {"github-activity": "GitHub's record of the push", "first-seen": "when the course first saw it"}
        lines.append(f"* Pushed: {collected['pushed_at']} ({source.get(collected.get('pushed_source'), 'unknown')})")
    late_head = (collected or {}).get("late_head") or {}
    if isinstance(late_head, dict) and late_head.get("sha"):
        lines.append(f"* Not graded: `{_cell(late_head['sha'])}`, pushed {_cell(late_head.get('pushed_at'))} after the "
                     "deadline (cut-off policy: the version pushed on time is graded)")
    lines += [f"* **Autograded score: {f(rep['score'])} / {f(rep['max_score'])}**"]
    if rep.get("late_penalty"):
        lines.append(f"* Late penalty: -{f(rep['late_penalty'])} points (before it: {f(rep.get('raw_score', 0))})")
    if rep.get("manual_max"):
        lines.append(f"* Plus {f(rep['manual_max'])} points of written answers, graded by hand")
    lines += ["", "| task | points | status | page |", "|---|---:|---|---|"]
    for nb in rep["notebooks"]:
        page = f"[{nb['notebook']}.html]({nb['notebook']}.html)"
        lines.append(f"| {_cell(nb['notebook'])} | {f(nb['score'])} / {f(nb['max_score'])} | "
                     f"{_cell(nb['status'])} | {page} |")
    failed = [(nb, t) for nb in rep["notebooks"] for t in nb.get("tests", []) if t["status"] in ("failed", "error")]
    problems = [nb for nb in rep["notebooks"] if nb.get("problem")]
    if failed or problems:
        lines += ["", "## What failed", ""]
        for nb in problems:
            lines.append(f"* {_cell(nb['notebook'])}: {_cell(nb['problem'])}")
        for nb, t in failed:
            lines.append(f"* {_cell(nb['notebook'])} / `{_cell(t['grade_id'])}` "
                         f"({f(t['points'])} / {f(t['max_points'])}): {_cell(t.get('message') or t['status'])}")
            for hint in t.get("hints") or []:  # fixed texts of the task's misconception catalogue
                if isinstance(hint, dict) and hint.get("text"):
                    lines.append(f"  * Likely cause: {_cell(hint['text'])}")
    notes = list(rep.get("notes") or []) + [n for n in (collected or {}).get("notes", []) if n not in
                                            (rep.get("notes") or [])]
    if notes:
        lines += ["", "## Notes", ""] + [f"* {_cell(n)}" for n in notes]
    lines += ["", "The pages (`*.html`) show each test and your code as graded: download them, or open them "
              "from a clone. Hidden tests run your code on further inputs; their inputs and expected values "
              "are never shown.", ""]
    return "\n".join(lines)


def feedback_files(out: Path, rep: dict, collected: dict | None) -> dict:
    """``README.md`` and this student's pages only (regular files of their own feedback folder)."""
    files = {"README.md": readme(rep, collected).encode("utf-8", "backslashreplace")}
    folder = report.feedback_folder(out, rep["student"], rep["assignment"])
    if folder.is_dir() and not folder.is_symlink():
        for page in sorted(folder.glob("*.html")):
            if page.is_file() and not page.is_symlink():
                files[page.name] = page.read_bytes()
    return files


def give_back(out: Path, roster_path: Path, *, assignment: str | None = None, org: str | None = None,
              url_template: str = roster.DEFAULT_URL, api_url: str = github.DEFAULT_API, branch: str = "feedback",
              status: bool = False, token: str | None = None, jobs: int = 8, echo=print) -> Returned:
    """Push each rostered student's feedback to their repository's ``branch``.

    Args:
        out: the record folder.
        roster_path: the roster (repositories resolved exactly as collect does).
        assignment: the assignment (default: the record's).
        org: organisation of default repository names.
        url_template: clone URL template.
        api_url: the REST API's root (for ``status``).
        branch: the branch to write.
        status: also set the commit status ``autograder`` on the graded commit.
        token: the git and API token.
        jobs: students returned at once (each mostly waits on git or the network).
        echo: console lines.

    Returns:
        Counts of what happened.
    """
    from .publish import assignment_of

    out = Path(out)
    if not (out / report.REPORTS).is_dir():
        raise CourseError(f"{out}: no {report.REPORTS}/ folder: give the record folder (`grade --out`)")
    assignment = assignment or assignment_of(out)
    if roster.valid_student(branch.replace("/", "-")):
        raise CourseError(f"--branch {roster.printable(branch)!r} is not a usable branch name")
    roster.check_template(url_template)
    if jobs < 1:
        raise CourseError("--jobs must be at least 1")
    entries = roster.read(roster_path, assignment=assignment, org=org, echo=echo)
    collected = record.load_collected(out, assignment)
    returned = record.load_json(out / record.RETURNED, {})
    git = Git(token)
    counts = Returned()
    with tempfile.TemporaryDirectory(prefix="autograder-return-") as scratch:
        repo = git.init_bare(Path(scratch) / "repo")

        def one(entry):
            """What needs no git nor network, in the run's own thread: (console lines, what happened) when that
            settles it, else a function that finishes the student's return in a worker thread."""
            lines: list = []
            path = report.report_path(out, entry.student, assignment)
            if not path.is_file():
                return lines, {"no_report": 1}
            try:
                rep = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                return [f"{entry.student}: unreadable report: skipped"], {"failed": 1}
            if rep.get("student") != entry.student or rep.get("assignment") != assignment:
                return [f"{entry.student}: the report {path.name} is another student's: skipped"], {"failed": 1}
            url = roster.clone_url(url_template, entry, org=org, assignment=assignment)
            mine = collected.get(entry.student)
            if mine and mine.get("status") == "missing":
                return [f"{entry.student}: {entry.repository}: no repository to return feedback to"], {"no_report": 1}
            before = returned.get(entry.student) or {}
            files = feedback_files(out, rep, mine)
            seen_tip = (mine or {}).get("feedback_tip")
            key = None
            if status and mine and mine.get("sha"):
                if mine.get("status") == "collected":
                    description = f"{report._fmt(rep['score'])} / {report._fmt(rep['max_score'])} points (autograded)"
                    state = "success" if rep["score"] >= rep["max_score"] else "failure"
                else:
                    description, state = f"not graded: {mine.get('reason') or 'nothing to grade'}", "failure"
                key = [mine["sha"], state, description]
            tree = flat_tree_sha(files)
            settled = _settled(tree, before, branch, seen_tip)
            if settled and (key is None or before.get("status") == key):
                return lines, {"unchanged": 1}  # most students of a cycle: no thread, no git process

            def finish() -> tuple[list, dict]:
                try:
                    changed = _push_one(git, repo, url, branch, files, tree, before, lines.append, entry.student,
                                        seen_tip=seen_tip)
                except GitError as exc:
                    return lines + [f"{entry.student}: {entry.repository}: feedback not returned ({exc})"], \
                        {"failed": 1}
                outcome = {"pushed": 1, "entry": {**before, **changed}} if changed else {"unchanged": 1}
                if key is not None and before.get("status") != key:
                    _, state, description = key
                    try:
                        github.set_status(api_url, entry.repository, mine["sha"], state, description, token=token,
                                          target_url=_branch_page(url, entry.repository, branch))
                    except github.ApiError as exc:
                        lines.append(f"{entry.student}: commit status not set ({git.scrub(str(exc))})")
                        outcome["failed"] = 1
                    else:
                        outcome["status"] = key
                        outcome["statuses"] = 1
                return lines, outcome

            return finish

        planned = [one(entry) for entry in entries]
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            pending = {i: pool.submit(step) for i, step in enumerate(planned) if callable(step)}
            for i, entry in enumerate(entries):  # in roster order
                lines, outcome = pending[i].result() if i in pending else planned[i]
                for line in lines:
                    echo(line)
                for field in ("pushed", "unchanged", "no_report", "failed", "statuses"):
                    setattr(counts, field, getattr(counts, field) + outcome.get(field, 0))
                if "entry" in outcome:
                    returned[entry.student] = outcome["entry"]
                if "status" in outcome:
                    returned.setdefault(entry.student, {})["status"] = outcome["status"]
    record.write_json(out / record.RETURNED, returned)
    echo(f"return: {counts.pushed} feedback branches updated, {counts.unchanged} unchanged, "
         f"{counts.no_report} without a report, {counts.failed} failed"
         + (f", {counts.statuses} commit statuses set" if status else ""))
    return counts


def _branch_page(url: str, repository: str, branch: str) -> str | None:
    return f"https://github.com/{repository}/tree/{branch}" if url.startswith("https://github.com/") else None


_FETCHING = threading.Lock()


def _ours_when_collected(before: dict, branch: str, seen_tip) -> bool:
    """The branch held the commit pushed last time when this cycle's collect looked."""
    return bool(before.get("commit") and isinstance(seen_tip, dict) and seen_tip.get("branch") == branch
                and seen_tip.get("sha") == before["commit"])


def _settled(tree: str, before: dict, branch: str, seen_tip) -> bool:
    """The feedback is the tree pushed last time, and the branch still held that commit when collect looked."""
    return before.get("tree") == tree and _ours_when_collected(before, branch, seen_tip)


def _push_one(git: Git, repo: Path, url: str, branch: str, files: dict, tree: str, before: dict, echo, student,
              seen_tip: dict | None = None) -> dict | None:
    """Push ``files`` (``tree``: their :func:`flat_tree_sha`) as ``branch``; return {"commit", "tree"} when a
    commit was pushed, None when unchanged.

    ``seen_tip`` is the branch's tip as this cycle's ``collect`` saw it (``feedback_tip``): when it is
    the commit pushed last time and the tree is the same, nothing runs at all (a branch changed after
    that collect is put back in the next cycle). When it is the commit pushed last time and the tree
    changed, the new commit is pushed over it without asking for the tip again (the push's lease
    still requires that tip); otherwise, or when that push is refused, the tip is asked for again.
    """
    if _settled(tree, before, branch, seen_tip):
        return None  # unchanged, and the branch was ours when collect looked: no git process
    ours_when_collected = _ours_when_collected(before, branch, seen_tip)
    tip = before["commit"] if ours_when_collected else git.ls_remote(url, f"refs/heads/{branch}")
    ours = tip is not None and tip == before.get("commit")
    if ours and before.get("tree") == tree:
        return None  # unchanged: one ls-remote, no other git process
    written = git.write_tree(repo, files)
    if written != tree:
        raise GitError(f"internal: tree {written} != {tree}")
    parent = None
    if ours:
        with _FETCHING:  # one at a time: the threads share the scratch repository, its shallow file and ref
            git.fetch(repo, url, f"refs/heads/{branch}", depth=1)  # the course's own last feedback commit
            fetched = git.run(["rev-parse", "refs/autograder/fetched"], repo).stdout.decode().strip()
        parent = fetched if fetched == tip else None
    elif tip is not None:
        echo(f"{student}: the {branch} branch was changed by someone else: putting it back")
    commit = git.commit(repo, tree, "Feedback from the course's autograder\n", parent=parent)
    if not git.push(repo, url, commit, branch, force=True, lease=tip or ""):
        if ours_when_collected:  # it moved after collect looked: ask for the tip and decide again
            return _push_one(git, repo, url, branch, files, tree, before, echo, student)
        raise GitError(f"the {branch} branch moved while feedback was pushed; run return again")
    return {"commit": commit, "tree": tree}
