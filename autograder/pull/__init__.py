"""The pull loop: the course collects from student repositories, keeps its record in git, returns feedback.

Contract of this wing (``autograder collect``, ``publish`` and ``return`` are its verbs):

* **Standard library and git only.** It imports nothing of the package but
  :mod:`autograder.course` (for :class:`~autograder.course.CourseError`) and
  :mod:`autograder.report` (the report schema), both stdlib-only at import time, so
  that ``autograder collect`` runs before the project's dependencies are installed.
  It never imports ``grading/``, ``sandbox/`` or ``tasks/``: it meets the grader only
  in files (``submitted/`` and the record folder).
* **Nothing from a student runs.** Student repositories are fetched into scratch bare
  repositories with hooks, submodules and LFS filters off, and their files are read
  with ``git cat-file``: nothing is checked out, nothing executed. Only regular files
  with safe names reach ``submitted/``.
* **The token stays secret.** ``AUTOGRADER_GIT_TOKEN`` is passed to git only through
  the environment (``GIT_CONFIG_*``, an ``http.<host>.extraHeader`` scoped to the
  clone URL's host) and to the REST API in a request header; it never appears in a
  process's arguments, ``.git/config``, a report, a log or the console (git's own
  messages are scrubbed).
* **The record** (the ``--out`` folder of ``autograder grade``) holds ``collected.json``
  (per student: repository, commit, first-seen time and its source, notebook hashes)
  and ``returned.json`` (the feedback commit pushed to each student), besides the
  reports. Commit dates are never used.
"""
