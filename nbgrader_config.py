"""nbgrader configuration of the course (used by every stock nbgrader command)."""

import os

c = get_config()  # noqa: F821 - provided by nbgrader

# The course root is the folder of this file, as an absolute path (nbgrader warns on a relative one).
ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "dl1"
c.CourseDirectory.root = ROOT
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(ROOT, "gradebook.db")

# Student code may print and warn: honest output must not fail a test cell.
# Stock nbgrader scores a test cell 0 on any stderr output; drop stderr from
# test cells before scoring (the hidden checks also silence the code they call).
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?s).*"
c.Execute.timeout = 60
c.Execute.allow_errors = True
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Late submissions: the course's policy, charged once on the assignment's total (not once per
# notebook, as nbgrader's own plug-in would). `autograder grade --deadline ... --late-policy P`
# records the due date, each student's extension (plus grace) and the penalties in the gradebook,
# so `nbgrader export` agrees with it; set the same P here (or in AUTOGRADER_LATE_POLICY) so that
# `nbgrader autograde` agrees too. See autograder/course/late.py.
c.AssignLatePenalties.plugin_class = "autograder.course.late.CourseLatePolicy"
c.CourseLatePolicy.policy = os.environ.get("AUTOGRADER_LATE_POLICY", "cutoff")
c.CourseLatePolicy.policies = {}  # e.g. {"exam22": "penalty:10/day,max=50"}
