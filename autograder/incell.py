"""Run a check inside the notebook's own kernel.

This is what the hidden part of a test cell calls, so that stock
``nbgrader autograde`` (and ``nbgrader validate``) grade the notebook with the
same checks as official grading. Here the check, and its expected values, run
in the student's process: a determined student could interfere. Official
grading (``autograder grade``) never executes this: it runs the check in the
grader instead (README, Security).
"""

from __future__ import annotations

from autograder import tasks
from autograder.bridge import protocol
from autograder.grading.checking import CheckFailed, Student, seed_for


def run_hidden(task: str, check_name: str, namespace: dict) -> None:
    """Run ``autograder.tasks.<task>.checks.<check_name>`` against ``namespace``.

    Raises AssertionError with the check's message when it fails.
    """
    fn = getattr(tasks.load(task), check_name)
    student = Student(lambda request: protocol.serve(namespace, request), seed=seed_for(task, check_name))
    try:
        fn(student)
    except CheckFailed as exc:
        raise AssertionError(str(exc)) from None
