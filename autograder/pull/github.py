"""GitHub's API, only where it is needed: commit statuses (``return --status``), push times and
the heads of many repositories in one request (``collect``).

Standard library only (``urllib``). The token goes in the ``Authorization`` header,
never in a URL; errors are reported without the request's headers.
"""

from __future__ import annotations

import json
import urllib.parse

DEFAULT_API = "https://api.github.com"


def _http():
    """``urllib.request`` and ``urllib.error``, imported on the first call (most runs of collect and return make
    none, and the import costs about 20 ms)."""
    import urllib.error
    import urllib.request

    return urllib.request, urllib.error


class ApiError(Exception):
    """A REST call failed (the message never holds the token)."""


def request(api_url: str, method: str, path: str, body: dict | None = None, token: str | None = None,
            timeout: float = 30):
    """One REST call; returns the decoded JSON answer (None when empty).

    Args:
        api_url: e.g. ``https://api.github.com`` or ``http://127.0.0.1:PORT`` in tests.
        method: ``GET``, ``POST``...
        path: e.g. ``/repos/owner/name/statuses/<sha>`` (each part already validated).
        body: JSON body, or None.
        token: sent as ``Authorization: Bearer``.
        timeout: seconds.

    Returns:
        The answer's JSON.

    Raises:
        ApiError: HTTP error, network error or a non-JSON answer.
    """
    url = api_url.rstrip("/") + path
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ApiError(f"--api-url must be an http(s) URL, not {api_url!r}")
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
               "User-Agent": "autograder"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    request_, error_ = _http()
    req = request_.Request(url, data=data, method=method, headers=headers)
    try:
        with request_.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (http(s) checked above)
            raw = resp.read(10 * 2**20)
    except error_.HTTPError as exc:
        raise ApiError(f"{method} {path}: HTTP {exc.code} {exc.reason}") from None
    except (error_.URLError, OSError) as exc:
        raise ApiError(f"{method} {path}: {getattr(exc, 'reason', exc)}") from None
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(f"{method} {path}: the answer is not JSON") from None


def set_status(api_url: str, repository: str, sha: str, state: str, description: str, *, token: str | None,
               context: str = "autograder", target_url: str | None = None) -> None:
    """``POST /repos/{owner}/{repo}/statuses/{sha}``: the status shown next to a commit.

    Args:
        api_url: the API's root.
        repository: ``owner/name`` (validated by the roster).
        sha: the commit (40 hex digits).
        state: ``success``, ``failure``, ``error`` or ``pending``.
        description: at most 140 characters (longer is cut).
        token: the course's token.
        context: the status's name.
        target_url: where the status links to, or None.
    """
    body = {"state": state, "description": description[:140], "context": context}
    if target_url:
        body["target_url"] = target_url
    request(api_url, "POST", f"/repos/{repository}/statuses/{sha}", body, token)


#: activity types that make their ``after`` SHA the head of the branch they name
PUSH_TYPES = ("push", "force_push", "branch_creation", "pr_merge", "merge_queue_merge")
MAX_PAGES = 50


def _get_paged(api_url: str, path: str, token: str | None, timeout: float = 30):
    """Yield the items of a paginated GET, following ``Link: <...>; rel="next"`` on the same host."""
    root = urllib.parse.urlsplit(api_url.rstrip("/"))
    url = api_url.rstrip("/") + path
    for _ in range(MAX_PAGES):
        parts = urllib.parse.urlsplit(url)
        if (parts.scheme, parts.netloc) != (root.scheme, root.netloc):
            raise ApiError("GET activity: a pagination link points to another host")
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
                   "User-Agent": "autograder"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request_, error_ = _http()
        req = request_.Request(url, method="GET", headers=headers)
        try:
            with request_.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (http(s), same host)
                raw, link = resp.read(10 * 2**20), resp.headers.get("Link") or ""
        except error_.HTTPError as exc:
            raise ApiError(f"GET activity: HTTP {exc.code} {exc.reason}") from None
        except (error_.URLError, OSError) as exc:
            raise ApiError(f"GET activity: {getattr(exc, 'reason', exc)}") from None
        try:
            items = json.loads(raw)
        except ValueError:
            raise ApiError("GET activity: the answer is not JSON") from None
        if not isinstance(items, list):
            raise ApiError("GET activity: the answer is not a list")
        yield from items
        nxt = [part.split(";")[0].strip().strip("<>") for part in link.split(",") if 'rel="next"' in part]
        if not nxt:
            return
        url = nxt[0]
    raise ApiError(f"GET activity: more than {MAX_PAGES} pages")


def pushes(api_url: str, repository: str, *, token: str | None, timeout: float = 30) -> tuple[str, list]:
    """The pushes to a repository's default branch, from GitHub's activity API.

    ``GET /repos/{owner}/{repo}`` (its ``default_branch``), then ``GET /repos/{owner}/{repo}/activity``
    for that branch, every page. These times are GitHub's, set when the push reached it: a student
    cannot change them (unlike a commit's date).

    Args:
        api_url: the API's root.
        repository: ``owner/name`` (validated by the roster).
        token: the course's token, or None.
        timeout: seconds per request.

    Returns:
        (default branch, [(time as aware UTC datetime, activity type, after SHA, before SHA), ...] sorted by time).

    Raises:
        ApiError: the API cannot be used (the caller falls back to first-seen times).
    """
    import datetime as dt

    info = request(api_url, "GET", f"/repos/{repository}", token=token, timeout=timeout)
    branch = info.get("default_branch") if isinstance(info, dict) else None
    if not isinstance(branch, str) or not branch or len(branch) > 255:
        raise ApiError(f"GET /repos/{repository}: no default branch")
    ref = f"refs/heads/{branch}"
    query = urllib.parse.urlencode({"ref": ref, "per_page": 100, "direction": "asc"})
    found = []
    for item in _get_paged(api_url, f"/repos/{repository}/activity?{query}", token, timeout):
        if not isinstance(item, dict) or item.get("ref") not in (ref, branch):
            continue
        if item.get("activity_type") not in PUSH_TYPES:
            continue
        after, before, stamp = item.get("after"), item.get("before"), item.get("timestamp")
        if not (isinstance(after, str) and len(after) == 40 and isinstance(stamp, str)):
            continue
        try:
            when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            continue
        if when.tzinfo is None:
            continue
        found.append((when.astimezone(dt.timezone.utc), item["activity_type"], after.lower(),
                      before.lower() if isinstance(before, str) else None))
    found.sort(key=lambda p: p[0])
    return branch, found


def first_push(push_list: list, sha: str):
    """The earliest push in ``push_list`` (from :func:`pushes`) that made ``sha`` the head, or None."""
    return next((when for when, _, after, _ in push_list if after == sha.lower()), None)


def last_before(push_list: list, deadline):
    """The head of the branch at ``deadline``: the SHA of the last push at or before it, or None."""
    heads = [after for when, _, after, _ in push_list if when <= deadline]
    return heads[-1] if heads else None


#: repositories asked per GraphQL request (GitHub's limit on a connection's nodes is 100)
HEADS_PER_QUERY = 100


def graphql_root(api_url: str) -> str:
    """The root under which ``/graphql`` is: the REST root, or ``https://HOST/api`` for GitHub Enterprise's
    ``https://HOST/api/v3``."""
    root = api_url.rstrip("/")
    return root[: -len("/v3")] if root.endswith("/api/v3") else root


def heads(api_url: str, repositories: list, ref: str, *, token: str | None, timeout: float = 30) -> dict:
    """The head of the default branch and of ``ref`` of many repositories, ``HEADS_PER_QUERY`` per request.

    One GraphQL query asks for each repository's ``defaultBranchRef`` and ``ref(qualifiedName:)``, with
    the names as variables (never spliced into the query's text).

    Args:
        api_url: the REST API's root (``graphql_root`` finds the GraphQL endpoint).
        repositories: ``owner/name`` each (validated by the roster).
        ref: a full ref name, e.g. ``refs/heads/feedback``.
        token: the course's token (GitHub's GraphQL API needs one).
        timeout: seconds per request.

    Returns:
        ``owner/name`` -> (head SHA or None, ``ref``'s SHA or None) for each repository the answer
        describes well (40 lowercase hex digits or null); a repository it does not (not found, no
        access, anything odd) is left out, and the caller asks git.

    Raises:
        ApiError: a request failed or its answer is not GraphQL's shape.
    """
    found = {}
    for start in range(0, len(repositories), HEADS_PER_QUERY):
        batch = repositories[start:start + HEADS_PER_QUERY]
        variables, fields = {"ref": ref}, []
        for i, repository in enumerate(batch):
            owner, _, name = repository.partition("/")
            variables[f"o{i}"], variables[f"n{i}"] = owner, name
            fields.append(f"r{i}: repository(owner: $o{i}, name: $n{i}) {{ defaultBranchRef {{ target {{ oid }} }} "
                          "feedback: ref(qualifiedName: $ref) { target { oid } } }")
        declared = ", ".join(["$ref: String!"] + [f"$o{i}: String!, $n{i}: String!" for i in range(len(batch))])
        answer = request(graphql_root(api_url), "POST", "/graphql",
                         {"query": f"query({declared}) {{ {' '.join(fields)} }}", "variables": variables}, token,
                         timeout=timeout)
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict):
            raise ApiError("POST /graphql: the answer holds no data")
        for i, repository in enumerate(batch):
            node = data.get(f"r{i}")
            if not isinstance(node, dict):
                continue
            head, tip = _oid(node, "defaultBranchRef"), _oid(node, "feedback")
            if head is not False and tip is not False:
                found[repository] = (head, tip)
    return found


def _oid(node: dict, field: str):
    """The commit SHA of ``node[field]``, None when that ref does not exist, False when the answer is odd."""
    ref = node.get(field, False)
    if ref is None:
        return None
    target = ref.get("target") if isinstance(ref, dict) else None
    oid = target.get("oid") if isinstance(target, dict) else None
    if isinstance(oid, str) and len(oid) == 40 and all(ch in "0123456789abcdef" for ch in oid):
        return oid
    return False
