"""git, run so that nothing from a student repository executes and the token never shows.

Every git process gets:

* no system or global configuration (``GIT_CONFIG_NOSYSTEM``, ``GIT_CONFIG_GLOBAL=/dev/null``),
  no prompts (``GIT_TERMINAL_PROMPT=0``, an askpass that answers nothing), no credential helper;
* hooks off (``core.hooksPath=/dev/null``), no fsmonitor, no submodules, LFS filters off
  (``GIT_LFS_SKIP_SMUDGE=1`` and empty ``filter.lfs.*``), the ``ext::`` transport off, no
  automatic gc;
* the token, when there is one, only as ``http.<scheme>://<host>/.extraHeader`` through
  ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``: in the environment of the
  git process, for that host only, never in its arguments or a config file.

Everything git prints passes through :meth:`Git.scrub` before anyone sees it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from autograder.course import CourseError

TOKEN_ENV = "AUTOGRADER_GIT_TOKEN"
#: configuration every git process of the pull loop runs with (key, value)
SAFE_CONFIG = [
    ("core.hooksPath", "/dev/null"),
    ("core.fsmonitor", "false"),
    ("core.askPass", "true"),
    ("credential.helper", ""),
    ("submodule.recurse", "false"),
    ("fetch.recurseSubmodules", "false"),
    ("filter.lfs.smudge", ""),
    ("filter.lfs.process", ""),
    ("filter.lfs.clean", ""),
    ("filter.lfs.required", "false"),
    ("protocol.ext.allow", "never"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("init.defaultBranch", "main"),
    ("commit.gpgSign", "false"),
    ("advice.detachedHead", "false"),
]
SHA_LEN = 40


class GitError(CourseError):
    """A git command failed; the message is scrubbed of the token (a verb that does not catch it exits 2)."""


class TooBig(GitError):
    """A fetch grew past its size limit and was stopped."""


def token_from_env() -> str | None:
    """The course's token, from ``AUTOGRADER_GIT_TOKEN`` (None when unset or empty)."""
    return os.environ.get(TOKEN_ENV) or None


class Git:
    """Runs git with the safe configuration; optional token for one URL's host."""

    def __init__(self, token: str | None = None, author: tuple[str, str] = ("autograder", "autograder@localhost")):
        self.token = token
        self.author = author
        self._secrets = []
        if token:
            basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
            self._secrets = sorted({token, basic, f"x-access-token:{token}"}, key=len, reverse=True)

    # -- secrecy ------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        """``text`` with every form of the token replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def env(self, url: str | None = None) -> dict:
        """The environment of a git process (the token's header only for ``url``'s host)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k != TOKEN_ENV}
        env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", GIT_TERMINAL_PROMPT="0",
                   GIT_ASKPASS="true", SSH_ASKPASS="true", GIT_LFS_SKIP_SMUDGE="1", LC_ALL="C",
                   GIT_AUTHOR_NAME=self.author[0], GIT_AUTHOR_EMAIL=self.author[1],
                   GIT_COMMITTER_NAME=self.author[0], GIT_COMMITTER_EMAIL=self.author[1])
        config = list(SAFE_CONFIG)
        if self.token and url:
            parts = urllib.parse.urlsplit(url)
            if parts.scheme in ("http", "https") and parts.hostname:
                host = parts.netloc.rsplit("@", 1)[-1]
                basic = base64.b64encode(f"x-access-token:{self.token}".encode()).decode()
                config.append((f"http.{parts.scheme}://{host}/.extraHeader", f"Authorization: Basic {basic}"))
        env["GIT_CONFIG_COUNT"] = str(len(config))
        for i, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{i}"] = key
            env[f"GIT_CONFIG_VALUE_{i}"] = value
        return env

    # -- running ------------------------------------------------------------------
    def run(self, args: list, cwd: Path | None = None, *, url: str | None = None, input: bytes | None = None,
            check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run ``git ARGS``; output as bytes. Raises :class:`GitError` (scrubbed) when ``check`` and it fails."""
        try:
            proc = subprocess.run(["git", *args], cwd=cwd, env=self.env(url), input=input, capture_output=True,
                                  timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise GitError(f"git {args[0]} took longer than {timeout:g} s") from None
        if check and proc.returncode != 0:
            raise GitError(self.message(proc.stderr) or f"git {args[0]} failed (exit {proc.returncode})")
        return proc

    def message(self, stderr: bytes) -> str:
        """git's last meaningful error line, decoded, scrubbed and shortened."""
        lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        lines = [line for line in lines if not line.startswith(("hint:", "remote: Enumerating", "remote: Counting"))]
        fatal = [line for line in lines if line.startswith(("fatal:", "error:", "remote:"))]
        text = (fatal or lines or [""])[-1]
        return self.scrub(text)[:300]

    def init_bare(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        self.run(["init", "-q", "--bare", str(path)])
        return path

    def ls_remote(self, url: str, ref: str = "HEAD", timeout: float = 120) -> str | None:
        """The SHA of ``ref`` in the repository at ``url``; None when the repository is empty or lacks it.

        Raises:
            GitError: the repository cannot be read (missing, no access, network).
        """
        return self.ls_remote_refs(url, [ref], timeout=timeout)[ref]

    def ls_remote_refs(self, url: str, refs: list, timeout: float = 120) -> dict:
        """The SHAs of several refs of the repository at ``url``, asked in one git process.

        Args:
            url: the repository.
            refs: full ref names (``HEAD``, ``refs/heads/feedback``); each is matched exactly.
            timeout: seconds.

        Returns:
            ref -> SHA, or None for a ref the repository lacks (every ref of ``refs`` is a key).

        Raises:
            GitError: the repository cannot be read (missing, no access, network).
        """
        refs = list(dict.fromkeys(refs))
        proc = self.run(["ls-remote", "--", url, *refs], url=url, timeout=timeout, check=False)
        if proc.returncode != 0:
            raise GitError(self.message(proc.stderr) or "git ls-remote failed")
        found = dict.fromkeys(refs)
        for line in proc.stdout.decode("ascii", "replace").splitlines():
            sha, _, name = line.partition("\t")
            if name in found and found[name] is None and len(sha) == SHA_LEN \
                    and all(ch in "0123456789abcdef" for ch in sha):
                found[name] = sha
        return found

    def fetch(self, repo: Path, url: str, ref: str, *, depth: int | None = 1, max_bytes: int | None = None,
              timeout: float = 600) -> str:
        """Fetch ``ref`` of ``url`` into the bare repository ``repo``; return the fetched commit's SHA.

        While it runs, the size of ``repo`` is watched: past ``max_bytes`` the fetch is killed
        and :class:`TooBig` raised, so a huge repository costs at most about that much disk.
        """
        args = ["fetch", "-q", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules"]
        if depth:
            args.append(f"--depth={depth}")
        args += ["--", url, f"+{ref}:refs/autograder/fetched"]
        proc = subprocess.Popen(["git", *args], cwd=repo, env=self.env(url), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started = time.monotonic()
        too_big = timed_out = False
        try:
            while True:
                try:  # returns as soon as git ends (a small fetch takes a few milliseconds)
                    proc.wait(timeout=0.05)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if max_bytes is not None and _disk_usage(repo) > max_bytes:
                    too_big = True
                    break
                if time.monotonic() - started > timeout:
                    timed_out = True
                    break
        finally:
            if proc.poll() is None:
                proc.kill()
            _, stderr = proc.communicate()
        if too_big:
            raise TooBig(f"the repository is larger than {max_bytes / 2**20:g} MiB")
        if timed_out:
            raise GitError(f"fetching took longer than {timeout:g} s")
        if proc.returncode != 0:
            raise GitError(self.message(stderr) or "git fetch failed")
        return self.run(["rev-parse", "--verify", "refs/autograder/fetched^{commit}"], repo).stdout.decode().strip()

    def tree_entries(self, repo: Path, rev: str, recursive: bool = False) -> list[tuple[str, str, str, int, bytes]]:
        """(mode, type, sha, size, path bytes) of the tree of ``rev`` (size -1 for trees and links to commits)."""
        args = ["ls-tree", "-z", "-l", "--full-tree"] + (["-r"] if recursive else []) + [rev]
        out = self.run(args, repo).stdout
        entries = []
        for item in out.split(b"\0"):
            if not item:
                continue
            meta, _, path = item.partition(b"\t")
            mode, kind, sha, size = meta.decode("ascii").split()
            entries.append((mode, kind, sha, int(size) if size.isdigit() else -1, path))
        return entries

    def blob(self, repo: Path, sha: str) -> bytes:
        return self.run(["cat-file", "blob", sha], repo).stdout

    def blobs(self, repo: Path, shas: list) -> dict:
        """sha -> bytes of each blob named in ``shas``, read by one git process (``cat-file --batch``)."""
        wanted = list(dict.fromkeys(shas))
        if not wanted:
            return {}
        out = self.run(["cat-file", "--batch"], repo, input="".join(f"{sha}\n" for sha in wanted).encode()).stdout
        found, at = {}, 0
        for sha in wanted:  # "<sha> blob <size>\n<content>\n" for each, in order
            end = out.find(b"\n", at)
            head = out[at:end].decode("ascii", "replace").split() if end >= 0 else []
            if len(head) != 3 or head[0] != sha or head[1] != "blob" or not head[2].isdigit():
                raise GitError(f"git cat-file could not read the blob {sha[:12]}")
            size = int(head[2])
            found[sha] = out[end + 1:end + 1 + size]
            if len(found[sha]) != size:
                raise GitError(f"git cat-file could not read the blob {sha[:12]}")
            at = end + 1 + size + 1
        return found

    # -- writing a tree and a commit without a work tree ------------------------------
    def write_tree(self, repo: Path, files: dict, base: str | None = None, prefix: str = "") -> str:
        """A tree: ``base``'s tree with ``prefix`` (a folder, or everything when "") replaced by ``files``.

        Args:
            repo: a bare repository.
            files: relative path (str, ``/``-separated, under ``prefix``) -> bytes, or the Path of a file
                (hashed in one batch, no filters).
            base: a commit whose other folders are kept, or None.
            prefix: the folder that ``files`` replaces, e.g. ``"exam22/"``; "" replaces everything.

        Returns:
            The new tree's SHA.
        """
        index = repo / f"autograder-index-{os.getpid()}-{threading.get_ident()}"  # one per thread: calls may overlap
        index.unlink(missing_ok=True)
        env_index = {"GIT_INDEX_FILE": str(index)}
        try:
            if base and prefix:
                self._run_env(["read-tree", base], repo, env_index)
                self._run_env(["rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", prefix.rstrip("/")],
                              repo, env_index)
            # (otherwise the index file does not exist yet: git starts from an empty one)
            lines = []
            with tempfile.TemporaryDirectory(dir=repo, prefix="autograder-blobs-") as spill:
                on_disk = []
                for n, (rel, src) in enumerate(sorted(files.items())):
                    if not isinstance(src, Path):  # bytes: a file of their own, hashed with the rest
                        path = Path(spill) / str(n)
                        path.write_bytes(src)
                        src = path
                    on_disk.append((rel, src))
                if on_disk:  # one git process for every file
                    paths = "".join(f"{src}\n" for _, src in on_disk).encode()
                    shas = self.run(["hash-object", "-w", "--no-filters", "--stdin-paths"], repo,
                                    input=paths).stdout.decode().split()
                    if len(shas) != len(on_disk):
                        raise GitError("git hash-object did not name every file")
                    lines += [f"100644 {sha}\t{prefix}{rel}\n" for (rel, _), sha in zip(on_disk, shas)]
            if lines:
                self._run_env(["update-index", "--add", "--index-info"], repo, env_index,
                              input="".join(lines).encode())
            return self._run_env(["write-tree"], repo, env_index).stdout.decode().strip()
        finally:
            index.unlink(missing_ok=True)

    def _run_env(self, args, repo, extra, input=None):
        env = self.env()
        env.update(extra)
        proc = subprocess.run(["git", *args], cwd=repo, env=env, input=input, capture_output=True,
                              stdin=None if input is not None else subprocess.DEVNULL)
        if proc.returncode != 0:
            raise GitError(self.message(proc.stderr) or f"git {args[0]} failed")
        return proc

    def commit(self, repo: Path, tree: str, message: str, parent: str | None = None) -> str:
        args = ["commit-tree", tree] + (["-p", parent] if parent else [])
        return self.run(args, repo, input=message.encode()).stdout.decode().strip()

    def tree_of(self, repo: Path, rev: str) -> str:
        return self.run(["rev-parse", "--verify", f"{rev}^{{tree}}"], repo).stdout.decode().strip()

    def push(self, repo: Path, url: str, commit: str, branch: str, *, force: bool = False,
             lease: str | None = None) -> bool:
        """Push ``commit`` to ``branch`` of ``url``; False when it was rejected (someone pushed first)."""
        args = ["push", "-q", "--no-verify", "--no-recurse-submodules"]
        if lease is not None:
            args.append(f"--force-with-lease=refs/heads/{branch}:{lease}")
        # A '+' would force the update past a lease that no longer holds: with a lease, the lease alone allows
        # the update (fast-forward or not) while the branch is where the lease says, and refuses it otherwise.
        target = f"{'+' if force and lease is None else ''}{commit}:refs/heads/{branch}"
        proc = self.run([*args, "--", url, target], repo, url=url, check=False)
        if proc.returncode == 0:
            return True
        text = proc.stderr.decode("utf-8", "replace")
        if any(word in text for word in ("rejected", "non-fast-forward", "stale info", "fetch first",
                                         "cannot lock ref", "failed to update ref")):
            return False
        raise GitError(self.message(proc.stderr) or "git push failed")


def blob_sha(data: bytes) -> str:
    """git's object name of a blob holding ``data`` (computed here, no git process)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 (git's object names)


def flat_tree_sha(files: dict) -> str:
    """git's object name of a tree of regular files (no folders): name -> bytes.

    Lets ``return`` tell that a student's feedback is unchanged without running git.
    """
    assert all("/" not in name for name in files)
    body = b"".join(b"100644 " + name.encode() + b"\0" + bytes.fromhex(blob_sha(files[name]))
                    for name in sorted(files, key=lambda n: n.encode()))
    return hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()  # noqa: S324


def _disk_usage(path: Path) -> int:
    total = 0
    for dirpath, _, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total
