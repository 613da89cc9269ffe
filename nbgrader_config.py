"""nbgrader configuration of the course (used by every stock nbgrader command)."""

c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.course_id = "dl1"
c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
c.CourseDirectory.db_assignments = [dict(name="exam22"), dict(name="backprop")]

# Student code may print and warn: honest output must not fail a test cell.
# Stock nbgrader scores a test cell 0 on any stderr output; drop stderr from
# test cells before scoring (the hidden checks also silence the code they call).
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?s).*"
c.Execute.timeout = 60
c.Execute.allow_errors = True
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
