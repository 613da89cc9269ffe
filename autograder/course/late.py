"""nbgrader late-submission plug-in: the course's late policy, charged once on the assignment's total.

nbgrader's own plug-in knows only ``none`` and ``zero``, and nbgrader calls a plug-in once
per notebook: a points-per-hour rule is then charged once per notebook. This plug-in takes
the policy of :mod:`autograder.course.deadlines` (``cutoff``, ``zero``,
``penalty:<percent>/day[,max=<percent>]``) and returns, for each notebook, the policy's
percentage of that notebook's score. The notebooks' penalties add up to that percentage of
the assignment's total: the penalty is charged once, as ``autograder grade`` charges it, and
``nbgrader autograde`` and ``nbgrader export`` agree with it.

Configured in ``nbgrader_config.py``::

    c.AssignLatePenalties.plugin_class = "autograder.course.late.CourseLatePolicy"
    c.CourseLatePolicy.policy = "penalty:10/day,max=50"      # the --late-policy given to grade
    c.CourseLatePolicy.policies = {"exam22": "cutoff"}       # per assignment, overrides ``policy``

The lateness nbgrader passes (``total_seconds_late``) counts from the assignment's due date
plus the student's extension; ``autograder grade --deadline`` records the due date and puts
each student's extension and the grace into that extension, so no grace is applied here.
"""

from __future__ import annotations

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Dict, Unicode, validate

from autograder.course import CourseError, deadlines


class CourseLatePolicy(LateSubmissionPlugin):
    """The course's late policy for nbgrader (see the module)."""

    policy = Unicode("cutoff", help="cutoff, zero or penalty:<percent>/day[,max=<percent>]").tag(config=True)
    policies = Dict({}, help="assignment -> policy, overriding `policy` for that assignment").tag(config=True)

    @validate("policy")
    def _check_policy(self, proposal):
        try:
            deadlines.parse_policy(proposal["value"])
        except CourseError as exc:
            raise ValueError(str(exc)) from None
        return proposal["value"]

    def policy_for(self, assignment: str | None) -> deadlines.Policy:
        """The policy of ``assignment`` (``policies`` first, then ``policy``)."""
        return deadlines.parse_policy(self.policies.get(assignment, self.policy) if assignment else self.policy)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float | None:
        """The penalty on one notebook: the policy's percentage of its ``score`` (None when on time).

        Args:
            student_id: the student.
            score: the notebook's score.
            total_seconds_late: seconds after the due date plus extension (nbgrader's).

        Returns:
            The points taken off this notebook, or None.
        """
        assignment = getattr(self.parent, "assignment_id", None)
        percent = self.policy_for(assignment).percent(float(total_seconds_late or 0))
        if not percent:
            return None
        self.log.info("late policy %s: %s is %.0f s late: %g%% of each notebook's score",
                      self.policy_for(assignment).text(), student_id, total_seconds_late, percent)
        return float(score) * percent / 100.0
