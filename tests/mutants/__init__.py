"""Known-wrong implementations, one module per task.

``MUTANTS`` maps a mutant's name to ``{"cells": {grade_id: source}, "fails":
[check names]}``: replacing those solution cells must make exactly the listed
checks fail (the rest of the task, and every other task, keep their points).
"""
