"""The package's wings and the one direction imports may go.

Each module of ``autograder`` belongs to a wing: its first-level folder
(``commands``, ``grading``, ``bridge``, ``sandbox``, ``course``, ``tasks``,
``pull``) or its top-level module (``cli``, ``incell``, ``report``). A wing may
import only the wings listed for it below; imports only go down. Imports
inside functions count too. Two modules have narrower rules: ``commands.check``
(copied into student repositories) imports nothing of the package, and the pull
loop's verbs (``commands.collect``, ``publish``, ``return_``) import nothing of
``grading``, ``sandbox``, ``tasks`` or ``commands.grade``. The rules are read
from the source with ``ast``, so a test below also proves that an injected
forbidden import is caught.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from .helpers import ROOT

PACKAGE = ROOT / "autograder"

#: wing -> the wings it may import (itself always included)
ALLOWED = {
    "__init__": set(),
    "report": set(),  # the report schema and renderings: read by every other wing
    "bridge": set(),  # what crosses to student code: stdlib + NumPy only
    "sandbox": {"bridge"},  # never grading/ or tasks/: children must not hold hidden material
    "course": set(),
    "grading": {"bridge", "sandbox", "course", "report"},
    "tasks": {"grading", "bridge"},
    "incell": {"tasks", "grading", "bridge"},
    "pull": {"course", "report"},  # the pull loop meets the grader only in files
    "commands": {"report", "bridge", "sandbox", "course", "grading", "tasks", "pull"},
    "cli": {"commands", "course", "grading", "report", "sandbox"},  # sandbox: `grade` starts its first zygote early
}
#: modules that are copied elsewhere and so may import nothing of the package
STANDALONE = {"autograder.commands.check"}
#: the pull loop's verbs: in the commands wing, yet, like pull/, they meet the grader only in files
#: (submitted/ and the record folder), so they import none of these directly
PULL_VERBS = {"autograder.commands.collect", "autograder.commands.publish", "autograder.commands.return_"}
NOT_FOR_PULL_VERBS = ("autograder.grading", "autograder.sandbox", "autograder.tasks", "autograder.commands.grade")


def module_name(path: Path, package: Path) -> str:
    rel = path.relative_to(package.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def wing_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(path: Path, package: Path, members: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module) for every import of the package in ``path``, nested ones included.

    ``members``: name what ``from M import x`` imports as ``M.x`` (``from autograder.commands import
    grade`` is ``autograder.commands.grade``), not as ``M``.
    """
    module = module_name(path, package)
    is_pkg = path.name == "__init__.py"
    here = module.split(".") if is_pkg else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from autograder import course` imports the wing `course`
            found += [(node.lineno, f"{target}.{a.name}" if members or target == package.name else target)
                      for a in node.names]
    return [(line, name) for line, name in found if name == package.name or name.startswith(package.name + ".")]


def violations(package: Path = PACKAGE) -> list[str]:
    out = []
    for path in sorted(package.rglob("*.py")):
        module = module_name(path, package)
        wing = wing_of(module)
        assert wing in ALLOWED, f"{module}: wing {wing!r} has no rule in tests/test_layering.py: add one"
        for line, target in imports_of(path, package):
            rel = path.relative_to(package.parent)
            if module in STANDALONE:
                out.append(f"{rel}:{line}: {module} is copied into student repositories and may import "
                           f"nothing of the package, but imports {target}")
                continue
            dest = wing_of(target)
            if dest == "__init__" and wing != "bridge":
                continue  # the package root holds only __version__: any wing but bridge may read it
            if dest != wing and dest not in ALLOWED[wing]:
                out.append(f"{rel}:{line}: wing {wing!r} may not import {target} (wing {dest!r}); "
                           f"allowed: {', '.join(sorted(ALLOWED[wing])) or 'nothing of the package'}")
        if module in PULL_VERBS:
            for line, target in imports_of(path, package, members=True):
                if any(target == name or target.startswith(name + ".") for name in NOT_FOR_PULL_VERBS):
                    out.append(f"{path.relative_to(package.parent)}:{line}: {module} is a verb of the pull loop "
                               f"and may not import {target}: it meets the grader only in files (submitted/ and "
                               f"the record folder); never {', '.join(NOT_FOR_PULL_VERBS)}")
    return out


def test_imports_only_go_down():
    assert violations() == []


def test_the_pull_loops_verbs_exist():
    """The rule on the pull loop's verbs is not vacuous: they are where it looks."""
    for module in sorted(PULL_VERBS):
        path = ROOT / (module.replace(".", "/") + ".py")
        assert path.is_file(), f"{module} is not {path.relative_to(ROOT)}: update PULL_VERBS in tests/test_layering.py"


def test_every_wing_is_a_folder_or_a_known_module():
    for path in PACKAGE.iterdir():
        if path.name.startswith((".", "__pycache__")) or path.name == "templates":
            continue
        assert path.stem in ALLOWED, f"autograder/{path.name} is not a wing of tests/test_layering.py"


@pytest.mark.parametrize("victim, line", [
    ("bridge/codec.py", "from autograder.commands import grade"),
    ("grading/pipeline.py", "from autograder.tasks import load"),
    ("sandbox/zygote.py", "    from autograder.grading import checking"),
    ("report.py", "from autograder.course import notebooks"),
    ("commands/check.py", "from autograder import report"),
    ("course/notebooks.py", "from .. import cli"),
    # the pull loop's verbs: allowed to the commands wing, not to them
    ("commands/collect.py", "from autograder.grading import checking"),
    ("commands/publish.py", "from autograder.commands import grade"),
    ("commands/return_.py", "    from autograder.tasks import load"),
    ("commands/collect.py", "import autograder.sandbox"),
    ("commands/publish.py", "from .grade import run"),
])
def test_an_injected_upward_import_is_caught(tmp_path, victim, line):
    copy = tmp_path / "autograder"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / victim
    text = target.read_text()
    if line.startswith(" "):  # an import inside a function
        line = "def _injected():\n" + line
    target.write_text(text + "\n" + line + "\n")
    found = violations(copy)
    assert len(found) == 1 and found[0].startswith(f"autograder/{victim}:"), found
