"""Hints: after a check fails, name the known wrong approach the student's code matches.

Each task declares its misconceptions in ``autograder/tasks/<task>/misconceptions.py``
as ``MISCONCEPTIONS``, a list of :class:`Misconception`. The caller (``autograder
grade``, the tests) loads that list and passes it in, as it does the checks: this
module never imports a task.

The contract:

* The search runs **only after a check failed**, and only the misconceptions that
  concern a failed check (``Misconception.checks``) are tried.
* A misconception's ``probe(student, rng)`` calls the student's code through the
  :class:`~autograder.grading.checking.Student` proxy on inputs drawn from ``rng``,
  the grader's own generator (seeded per task and misconception, never a check's
  hidden inputs), runs the wrong approach's reference implementation in the grader
  on the same inputs and returns True only when the student's answer matches the
  wrong reference within tolerance **and** does not match the correct one
  (:func:`like`). A probe that raises anything, or times out, is no match.
* Several matches: a match that another match ``overrides`` (is more specific than)
  is dropped; if two or more matches of one ``group`` (rival explanations of the same
  quantity) remain, none of that group is named, so a hint never contradicts another.
* No match: no hint. A hint is the misconception's fixed ``text``, written for the
  student: it never holds an expected value, a hidden input or the student's output.

:func:`search` returns, per failed check, the list of ``{"id", "text"}`` to put in its
report entry (``TestResult.hints``).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterable

import numpy as np

from autograder.bridge import codec
from autograder.grading.checking import Student, seed_for

#: seconds one call of the student's code may take during a hint search
CALL_SECONDS = 5.0
#: seconds the whole hint search of one notebook may take
SEARCH_SECONDS = 30.0


@dataclasses.dataclass(frozen=True)
class Misconception:
    """One known wrong approach of a task.

    Attributes:
        id: a short name, unique in its task (``snake_case``).
        text: the hint shown to the student: the concept, never a value.
        checks: the checks (grade_ids) whose failure this misconception may explain;
            the hint is attached to those of them that failed.
        probe: ``probe(student, rng) -> bool``: True when the student's code behaves
            as the wrong approach's reference and not as the correct one.
        mutants: names of ``tests/mutants/<task>.py`` mutants that embody it.
        overrides: ids of more general misconceptions this one is more specific than.
        group: rival explanations of one quantity share a group: two of them matching
            at once contradict each other, and then neither is named.
    """

    id: str
    text: str
    checks: tuple[str, ...]
    probe: Callable[[Student, np.random.Generator], bool]
    mutants: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()
    group: str | None = None


# -- comparing --------------------------------------------------------------------

def _leaves(obj, depth=0):
    """(path, array) pairs of a nested result; raises ValueError on anything unreadable."""
    if depth > 8 or isinstance(obj, codec.Unsupported):
        raise ValueError("unreadable")
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise ValueError("keys")
        return [(f"{k}.{p}", a) for k in sorted(obj) for p, a in _leaves(obj[k], depth + 1)]
    if isinstance(obj, (list, tuple)):
        return [(f"{i}.{p}", a) for i, v in enumerate(obj) for p, a in _leaves(v, depth + 1)]
    if obj is None:
        return [("", None)]
    if isinstance(obj, bool):
        raise ValueError("bool")
    arr = np.asarray(obj)
    if arr.dtype.kind not in "biuf":
        raise ValueError("dtype")
    return [("", arr.astype(np.float64))]


def close(a, b, *, rtol: float = 1e-7, atol: float = 1e-10) -> bool:
    """``a`` and ``b`` have the same structure and shapes and equal values within tolerance.

    Non-finite entries must sit at the same places and be equal (NaN equals NaN).
    Never raises: anything that cannot be compared is "not close".

    Args:
        a, b: numbers, arrays, or lists/tuples/dicts of them.
        rtol, atol: as in :func:`numpy.allclose`.

    Returns:
        True when they agree.
    """
    try:
        la, lb = _leaves(a), _leaves(b)
    except (ValueError, TypeError, OverflowError):
        return False
    if [p for p, _ in la] != [p for p, _ in lb]:
        return False
    for (_, x), (_, y) in zip(la, lb):
        if x is None or y is None:
            if not (x is None and y is None):
                return False
            continue
        if x.shape != y.shape:
            return False
        fx, fy = np.isfinite(x), np.isfinite(y)
        if not np.array_equal(fx, fy) or not np.array_equal(x[~fx], y[~fy], equal_nan=True):
            return False
        if not np.allclose(x[fx], y[fy], rtol=rtol, atol=atol):
            return False
    return True


def like(actual, wrong, right, *, rtol: float = 1e-7, atol: float = 1e-10) -> bool:
    """The student's ``actual`` matches the ``wrong`` reference and not the ``right`` one.

    False as well when the two references agree (the input does not tell them apart).

    Args:
        actual: the student's answer (decoded).
        wrong: the wrong approach's answer on the same input, computed in the grader.
        right: the correct answer on the same input, computed in the grader.
        rtol, atol: the tolerance of "matches".

    Returns:
        True only for a clear match of the wrong approach.
    """
    if close(wrong, right, rtol=rtol, atol=atol):
        return False
    return close(actual, wrong, rtol=rtol, atol=atol) and not close(actual, right, rtol=rtol, atol=atol)


def overflows_like(actual, wrong, right, **_) -> bool:
    """The student's answer is non-finite exactly where an unstable formula's is (values aside).

    For "the formula overflows" misconceptions: ``right`` is finite everywhere, ``wrong`` (the
    literal, unstable formula) is not, and ``actual`` has inf/NaN at exactly the same places.
    Finite values are not compared, so a second, independent mistake does not hide this one.

    Args:
        actual: the student's answer; wrong, right: the two references on the same input.

    Returns:
        True for a match.
    """
    try:
        la, lw, lr = _leaves(actual), _leaves(wrong), _leaves(right)
    except (ValueError, TypeError, OverflowError):
        return False
    if not ([p for p, _ in la] == [p for p, _ in lw] == [p for p, _ in lr]):
        return False
    some = False
    for (_, a), (_, w), (_, r) in zip(la, lw, lr):
        if a is None or w is None or r is None:
            if not (a is None and w is None and r is None):
                return False
            continue
        if not (a.shape == w.shape == r.shape) or not np.all(np.isfinite(r)):
            return False
        bad = ~np.isfinite(w)
        if not np.array_equal(~np.isfinite(a), bad):
            return False
        some = some or bool(bad.any())
    return some


def quiet(fn, *args, **kwargs):
    """Run a reference with NumPy's floating-point warnings off (wrong approaches overflow)."""
    with np.errstate(all="ignore"):
        return fn(*args, **kwargs)


def function_probe(name: str, inputs: Callable, right: Callable, wrong: Callable, *, trials: int = 3,
                   pick: Callable = lambda out: out, rtol: float = 1e-7, atol: float = 1e-10,
                   kwargs: Callable | None = None, compare: Callable | None = None) -> Callable:
    """A probe that calls the student's global function ``name`` and compares with two references.

    Args:
        name: the student's function.
        inputs: ``inputs(rng) -> tuple`` of positional arguments (fresh arrays each time).
        right: the correct reference, ``right(*args, **kw)``.
        wrong: the wrong approach's reference, ``wrong(*args, **kw)``.
        trials: how many inputs; every one must match.
        pick: what of the student's result to compare (e.g. ``lambda out: out[0]``).
        rtol, atol: tolerance of the comparison.
        kwargs: ``kwargs(rng) -> dict`` of keyword arguments, or None.
        compare: ``compare(actual, wrong, right, rtol=, atol=) -> bool``; default :func:`like`
            (:func:`overflows_like` for an unstable formula).

    Returns:
        ``probe(student, rng) -> bool``.
    """
    def probe(student: Student, rng: np.random.Generator) -> bool:
        for _ in range(trials):
            args = inputs(rng)
            kw = kwargs(rng) if kwargs else {}
            out = pick(student.call(name, *_copies(args), **kw))
            if not (compare or like)(out, quiet(wrong, *_copies(args), **kw), quiet(right, *_copies(args), **kw),
                                     rtol=rtol, atol=atol):
                return False
        return True
    return probe


def _copies(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def modifies_argument(name: str, inputs: Callable, index: int | None = None, **kwargs) -> Callable:
    """A probe: calling the student's ``name`` changes one of its array arguments.

    Args:
        name: the student's function.
        inputs: ``inputs(rng) -> tuple`` of positional arguments.
        index: only this argument counts (None: any array argument).
        kwargs: keyword arguments of the call.

    Returns:
        ``probe(student, rng) -> bool``.
    """
    def probe(student: Student, rng: np.random.Generator) -> bool:
        args = inputs(rng)
        _, after = student.call_keep_args(name, *_copies(args), **kwargs)
        if not isinstance(after, list) or len(after) != len(args):
            return False
        which = range(len(args)) if index is None else [index]
        return any(isinstance(args[i], np.ndarray) and not close(after[i], args[i], rtol=0, atol=0)
                   for i in which)
    return probe


# -- searching --------------------------------------------------------------------

def validate(catalogue: Iterable[Misconception], checks: Iterable[str] = ()) -> list[str]:
    """Problems of a catalogue (duplicate ids, unknown references); [] when it is sound.

    Args:
        catalogue: the task's misconceptions.
        checks: the task's check names; when given, every ``checks`` entry must be one.

    Returns:
        One line per problem.
    """
    catalogue = list(catalogue)
    ids = [m.id for m in catalogue]
    problems = [f"duplicate id {i}" for i in sorted({i for i in ids if ids.count(i) > 1})]
    known = set(checks)
    for m in catalogue:
        if not m.text or re.search(r"\d[.,]\d|\d\d", m.text):
            problems.append(f"{m.id}: a hint text must be non-empty and hold no value")
        if not m.checks:
            problems.append(f"{m.id}: concerns no check")
        problems += [f"{m.id}: unknown check {c}" for c in m.checks if known and c not in known]
        problems += [f"{m.id}: overrides unknown id {o}" for o in m.overrides if o not in ids]
    return problems


def resolve(matched: set[str], catalogue: list[Misconception]) -> set[str]:
    """The misconceptions to name, of those that matched (see the module docstring).

    Args:
        matched: ids whose probe matched.
        catalogue: the task's misconceptions.

    Returns:
        ``matched`` less the overridden ones and less every group with rival matches.
    """
    by_id = {m.id: m for m in catalogue}
    kept = {i for i in matched if not any(i in by_id[j].overrides for j in matched if j != i)}
    groups: dict[str, list[str]] = {}
    for i in kept:
        if by_id[i].group:
            groups.setdefault(by_id[i].group, []).append(i)
    return {i for i in kept if not by_id[i].group or len(groups[by_id[i].group]) == 1}


def search(transport: Callable[[dict], dict], catalogue: list[Misconception], failed: Iterable[str],
           task: str, *, alive: Callable[[], bool] = lambda: True, seconds: float = SEARCH_SECONDS,
           log=None) -> dict[str, list[dict]]:
    """Find the misconceptions behind failed checks.

    Args:
        transport: carries one request to the student's namespace and back (as for checks).
        catalogue: the task's misconceptions (loaded by the caller).
        failed: the grade_ids of the checks that failed.
        task: the task's name (seeds the probes' inputs).
        alive: False once the student's process has died (the search stops).
        seconds: the search's time budget; misconceptions not tried by then are no match.
        log: where an unexpected error of a probe is noted (the run's private log), or None.

    Returns:
        grade_id -> ``[{"id", "text"}, ...]`` for every failed check with at least one hint.
    """
    failed = set(failed)
    catalogue = list(catalogue)
    deadline = time.monotonic() + seconds
    matched = set()
    for m in catalogue:
        if not failed & set(m.checks):
            continue
        if time.monotonic() > deadline or not alive():
            break
        student = Student(transport, seed=seed_for("hints", task, m.id))
        try:
            with np.errstate(all="ignore"):
                hit = m.probe(student, student.rng)
        except Exception as exc:  # noqa: BLE001 - a probe that raises (student, timeout, death) is no match
            # the student's failures (CheckFailed, SessionDead, ...) and what a wrong answer makes the
            # references raise are expected; anything else may be a bug of the probe: note it privately
            expected = type(exc).__module__.startswith("autograder") or isinstance(
                exc, (ArithmeticError, ValueError, TypeError, IndexError, KeyError))
            if log and not expected:
                log(f"hint probe {task}.{m.id} raised {type(exc).__name__}")
            hit = False
        if hit is True:
            matched.add(m.id)
    named = resolve(matched, catalogue)
    hints: dict[str, list[dict]] = {}
    for m in catalogue:
        if m.id in named:
            for gid in m.checks:
                if gid in failed:
                    hints.setdefault(gid, []).append({"id": m.id, "text": m.text})
    return hints
