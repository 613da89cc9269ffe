"""Grading for the course's nbgrader assignments (see README)."""

__version__ = "0.1.0"
