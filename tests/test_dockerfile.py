"""The Dockerfile, replayed without Docker (issue 9): built step by step as written and run as a container.

There is no Docker daemon where the tests run, so this module does what `docker build` and `docker run`
would do with the instructions it reads from the Dockerfile, with the kernel's own parts: each stage is an
overlay filesystem over the host (Debian, like python:3.11-slim, with Debian's Python 3.11 standing in for
the image's /usr/local/bin/python), every RUN runs in it with chroot in fresh mount, network and process
namespaces as the stage's USER and ENV, every COPY copies exactly what the .dockerignore'd context or the
other stage holds, and the CMD runs as the image's USER with its ENV and WORKDIR against a fresh PostgreSQL
database. The HEALTHCHECK and a few probes run inside the container as `docker exec` would run them.

One step differs: the build stage's `pip install .` cannot reach PyPI here (and copying 300 MB would make
this slow), so the venv gets a .pth file naming /replay/deps, where the runtime dependencies lie read-only
(hard links into the project's .venv: the closure of pyproject's dependencies, none of the dev tools), and
pip installs the project itself offline (`--no-index --no-build-isolation`, with Debian's `wheel`), after
checking that every dependency is satisfied. The final stage runs with /replay/deps mounted the same way.
What this cannot see: the real base image's files (a system library the slim image lacks, a tool a RUN
uses that Debian has and the slim image has not), the layer cache and image size, and Docker's own
handling of --chown, --chmod and HEALTHCHECK timing. Needs root (for namespaces and overlayfs), Debian's
python3.11 and python3-wheel, and TEST_DATABASE_URL; it takes half a minute on an idle machine.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as metadata
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest
from alembic.script import ScriptDirectory
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from sqlalchemy import URL, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app.migrate import alembic_config
from tests.databases import PostgresFactory
from tests.dbstate import empty_postgres_database

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
BASE_IMAGE = "python:3.11-slim"
# What python:3.11-slim sets before the Dockerfile's own ENV.
BASE_ENV = {"PATH": "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
# Top-level directories of a Debian image; anything else on the host is hidden from the stages.
DEBIAN_TOP = {"bin", "boot", "dev", "etc", "home", "lib", "lib64", "media", "mnt", "opt", "proc", "root"}
DEBIAN_TOP |= {"run", "sbin", "srv", "sys", "tmp", "usr", "var"}
# Directories that are empty (or, /usr/local, hold only Python) in the image, whatever the host has there.
EMPTY_IN_IMAGE = {"home": 0o755, "media": 0o755, "mnt": 0o755, "opt": 0o755, "root": 0o700, "run": 0o755}
EMPTY_IN_IMAGE |= {"srv": 0o755, "tmp": 0o1777, "var/tmp": 0o1777, "usr/local": 0o755}
HOST_PYTHON = "/usr/bin/python3.11"
PIP_INSTALL = re.compile(r"(?P<venv>/\S+)/bin/pip install \.(?=$|[\s;&|])")
WEB_PORT = 8000


# ------------------------------------------------------------------------------------ the Dockerfile


@dataclass(frozen=True)
class Instruction:
    keyword: str
    flags: dict[str, str]
    rest: str
    line: int

    def exec_form(self) -> list[str] | None:
        if self.rest.startswith("["):
            value = json.loads(self.rest)
            assert isinstance(value, list) and all(isinstance(item, str) for item in value), self
            return value
        return None

    def command(self) -> list[str]:
        """RUN, CMD: the exec form as written, the shell form through /bin/sh -c."""
        return self.exec_form() or ["/bin/sh", "-c", self.rest]


def parse_dockerfile(source: str) -> list[Instruction]:
    instructions: list[Instruction] = []
    logical, start = "", 0
    for number, raw in enumerate(source.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not logical and not stripped):
            continue  # comments, also between continued lines, and blank lines
        if not logical:
            start = number
        if raw.rstrip().endswith("\\"):
            logical += raw.rstrip()[:-1]
            continue
        logical += raw
        keyword, _, rest = logical.strip().partition(" ")
        flags: dict[str, str] = {}
        rest = rest.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
            rest = rest.strip()
        instructions.append(Instruction(keyword.upper(), flags, rest, start))
        logical = ""
    assert not logical, "the Dockerfile ends inside a continued line"
    return instructions


def expand(value: str, env: dict[str, str]) -> str:
    """$NAME and ${NAME} as Docker expands them in ENV, WORKDIR, COPY and USER."""
    return re.sub(r"\$(?:\{(\w+)\}|(\w+))", lambda m: env.get(m.group(1) or m.group(2), ""), value)


def healthcheck_of(instruction: Instruction) -> list[str]:
    keyword, _, command = instruction.rest.partition(" ")
    assert keyword == "CMD", f"HEALTHCHECK {instruction.rest!r}: the replay knows only HEALTHCHECK … CMD"
    form = Instruction("CMD", {}, command.strip(), instruction.line)
    return form.command()


# --------------------------------------------------------------------------------- the build context


class DockerIgnore:
    """.dockerignore as Docker reads it: Go path patterns with `**`, `!` exceptions, the last match wins,
    and a path is excluded when it or one of its parent directories is."""

    def __init__(self, source: str) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        self.exceptions: list[str] = []
        for raw in source.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exception = line.startswith("!")
            pattern = os.path.normpath(line.removeprefix("!").strip()).lstrip("/")
            self.rules.append((exception, re.compile(self._regex(pattern))))
            if exception:
                self.exceptions.append(pattern)

    @staticmethod
    def _regex(pattern: str) -> str:
        out, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                out, i = out + pattern[i : end + 1].replace("[!", "[^"), end + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return f"^{out}$"

    def may_hold_exception(self, directory: str) -> bool:
        """Whether an excluded directory may hold something an exception lets through again."""
        return any(
            pattern.startswith(directory + "/") or re.search(r"[*?\[]", pattern.split("/")[0])
            for pattern in self.exceptions
        )

    def excluded(self, relative: str) -> bool:
        parts = relative.split("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        result = False
        for exception, regex in self.rules:
            if any(regex.match(candidate) for candidate in candidates):
                result = not exception
        return result


def context_paths(context: Path) -> list[str]:
    """Every path of the build context that .dockerignore lets through, relative, sorted."""
    ignore = DockerIgnore(
        (context / ".dockerignore").read_text() if (context / ".dockerignore").exists() else ""
    )
    kept: list[str] = []
    for directory, dirs, files in os.walk(context):
        walk_on = []
        for name in sorted(dirs + files):
            relative = os.path.relpath(os.path.join(directory, name), context)
            if not ignore.excluded(relative):
                kept.append(relative)
                walk_on.append(name)
            elif name in dirs and ignore.may_hold_exception(relative):
                walk_on.append(name)
        dirs[:] = [name for name in dirs if name in walk_on]
    return sorted(kept)


# ------------------------------------------------------------------------------ the runtime closure


def runtime_distributions(pyproject: Path) -> list[metadata.Distribution]:
    """The installed distributions that `pip install .` would install: pyproject's dependencies and
    theirs, with their extras and markers, from the environment running the tests (never the dev tools)."""
    installed = {canonicalize_name(dist.metadata["Name"]): dist for dist in metadata.distributions()}
    wanted = [Requirement(spec) for spec in tomllib.loads(pyproject.read_text())["project"]["dependencies"]]
    found: dict[str, metadata.Distribution] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    while wanted:
        requirement = wanted.pop()
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        if name not in installed:
            continue  # pip will say it is missing
        dist = found.setdefault(name, installed[name])
        for spec in dist.requires or []:
            sub = Requirement(spec)
            extras = [{"extra": extra} for extra in (*requirement.extras, "")]
            if sub.marker is None or any(sub.marker.evaluate(env) for env in extras):
                wanted.append(sub)
    return sorted(found.values(), key=lambda dist: str(dist.metadata["Name"]).lower())


def dependency_manifest(dists: list[metadata.Distribution]) -> tuple[Path, list[str]]:
    """The site-packages directory and the files in it that belong to `dists` (scripts in bin/ left out:
    the app uses only its own `buurtkas`, which pip writes)."""
    roots = {Path(str(dist.locate_file(""))) for dist in dists}
    assert len(roots) == 1, roots
    site = roots.pop()
    files: list[str] = []
    for dist in dists:
        assert dist.files is not None, f"{dist.metadata['Name']} has no RECORD"
        files += [str(path) for path in dist.files if ".." not in PurePosixPath(path).parts]
    return site, sorted(set(files))


def build_tools(target: Path) -> bool:
    """`wheel`, which setuptools needs to build the project without build isolation: from the test
    environment if it has it, else from Debian's python3-wheel. False when neither is there."""
    candidates: list[Path] = []
    with contextlib.suppress(metadata.PackageNotFoundError):
        dist = metadata.distribution("wheel")
        candidates = [
            Path(str(dist.locate_file(""))) / name for name in ("wheel", f"wheel-{dist.version}.dist-info")
        ]
    if not candidates:
        debian = Path("/usr/lib/python3/dist-packages")
        candidates = [debian / "wheel", *debian.glob("wheel-*-info")]
    if len(candidates) < 2 or not all(path.exists() for path in candidates):
        return False
    for path in candidates:
        shutil.copytree(path, target / path.name, ignore=shutil.ignore_patterns("__pycache__"))
    return True


def link_tree(site: Path, files: list[str], target: Path) -> None:
    """The files as hard links under `target` (copies where the filesystem differs); the originals are
    never writable through it, as it is mounted read-only wherever it is used."""
    for relative in files:
        source, link = site / relative, target / relative
        if not source.exists() and "__pycache__" in relative:
            continue  # RECORD names bytecode that was never written
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, link)
        except OSError:
            shutil.copy2(source, link)


# Run in the build stage before its `pip install .`: the venv finds the dependencies in /replay/deps.
LINK_DEPENDENCIES = """
import os, sys
site = os.path.join(sys.argv[1], "lib", "python%d.%d" % sys.version_info[:2], "site-packages")
with open(os.path.join(site, "replay-dependencies.pth"), "w") as handle:
    handle.write("/replay/deps\\n")
"""


# --------------------------------------------------------------------------------- the namespaces


LAUNCHER = """
import json, os, subprocess, sys
spec = json.load(open(sys.argv[1]))
merged = spec["merged"]
def run(*argv):
    subprocess.run(argv, check=True)
run(spec["mount"], "-t", "overlay", "overlay", "-o",
    "lowerdir=/,upperdir=%s,workdir=%s" % (spec["upper"], spec["work"]), merged)
run(spec["mount"], "--rbind", "/dev", merged + "/dev")
run(spec["mount"], "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "shm", merged + "/dev/shm")
run(spec["mount"], "-t", "proc", "proc", merged + "/proc")
for source, target, read_only in spec["binds"]:
    os.makedirs(merged + target, exist_ok=True)
    run(spec["mount"], "--bind", source, merged + target)
    if read_only:
        run(spec["mount"], "-o", "remount,bind,ro", merged + target)
run(spec["ip"], "link", "set", "lo", "up")
os.chroot(merged)
os.chdir(spec["cwd"])
os.setgroups([])
os.setgid(spec["gid"])
os.setuid(spec["uid"])
os.execvpe(spec["argv"][0], spec["argv"], spec["env"])
"""


def unshare_argv(launcher: Path, spec: Path) -> list[str]:
    # --kill-child: if unshare goes, everything in the namespaces goes with it.
    namespaces = ["--mount", "--net", "--pid", "--fork", "--kill-child", "--propagation", "private"]
    return ["unshare", *namespaces, sys.executable, "-I", str(launcher), str(spec)]


# -------------------------------------------------------------------------------------- the build


@dataclass
class Stage:
    name: str
    directory: Path
    env: dict[str, str] = field(default_factory=lambda: dict(BASE_ENV))
    workdir: str = "/"
    user: str = "root"
    expose: list[str] = field(default_factory=list)
    healthcheck: list[str] | None = None
    cmd: list[str] | None = None

    @property
    def upper(self) -> Path:
        return self.directory / "upper"

    def path(self, image_path: str) -> Path:
        return self.upper / image_path.lstrip("/")

    def ids(self, user: str) -> tuple[int, int]:
        """uid and gid of USER `user` (a name or uid[:gid]) from the stage's own /etc/passwd."""
        name, _, group = user.partition(":")
        passwd = self.path("/etc/passwd") if self.path("/etc/passwd").exists() else Path("/etc/passwd")
        for line in passwd.read_text().splitlines():
            fields = line.split(":")
            if fields[0] == name or fields[2] == name:
                uid, gid = int(fields[2]), int(fields[3])
                return uid, int(group) if group.isdigit() else gid
        raise AssertionError(f"USER {user}: no such user in the image")

    def home(self, uid: int) -> str:
        passwd = self.path("/etc/passwd") if self.path("/etc/passwd").exists() else Path("/etc/passwd")
        homes = {int(f[2]): f[5] for f in (line.split(":") for line in passwd.read_text().splitlines())}
        return homes.get(uid, "/")


class ReplayError(AssertionError):
    pass


class Image:
    """The Dockerfile's stages as overlay upper directories under `workdir`."""

    def __init__(self, context: Path, workdir: Path) -> None:
        self.context = context
        self.workdir = workdir
        self.stages: list[Stage] = []
        self.context_paths = context_paths(context)
        self.replay = workdir / "replay"
        self.replay.mkdir()
        self.dependencies = workdir / "dependencies"
        self.launcher = workdir / "launcher.py"
        self.launcher.write_text(LAUNCHER)
        self.tools = {name: shutil.which(name) or name for name in ("mount", "ip")}
        self._specs = 0

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    # -- one namespace run
    def spec(
        self,
        stage: Stage,
        argv: list[str],
        *,
        uid: int,
        gid: int,
        env: dict[str, str],
        binds: Sequence[tuple[str, str, bool]] = (),
    ) -> Path:
        self._specs += 1
        (stage.directory / "work").mkdir(exist_ok=True)
        (stage.directory / "merged").mkdir(exist_ok=True)
        spec = {
            "upper": str(stage.upper),
            "work": str(stage.directory / "work"),
            "merged": str(stage.directory / "merged"),
            "binds": [list(bind) for bind in binds],
            "cwd": stage.workdir,
            "uid": uid,
            "gid": gid,
            "env": env,
            "argv": argv,
            **self.tools,
        }
        path = self.workdir / f"spec-{self._specs}.json"
        path.write_text(json.dumps(spec))
        return path

    # -- the instructions
    def build(self, instructions: list[Instruction]) -> None:
        for instruction in instructions:
            handler = getattr(self, f"_{instruction.keyword.lower()}", None)
            if handler is None:
                raise ReplayError(f"line {instruction.line}: the replay does not know {instruction.keyword}")
            handler(instruction)

    def _from(self, instruction: Instruction) -> None:
        image, _, alias = instruction.rest.partition(" AS ")
        if image.strip() != BASE_IMAGE:
            raise ReplayError(
                f"line {instruction.line}: the replay stands in only for {BASE_IMAGE}, not {image}"
            )
        stage = Stage(alias.strip() or str(len(self.stages)), self.workdir / f"stage-{len(self.stages)}")
        stage.upper.mkdir(parents=True)
        self._base_layer(stage.upper)
        self.stages.append(stage)

    def _base_layer(self, upper: Path) -> None:
        """What python:3.11-slim looks like over the host's Debian: host-only entries hidden, the empty
        directories empty, python in /usr/local/bin, no pip configuration."""
        for name in os.listdir("/"):
            if name not in DEBIAN_TOP:
                os.mknod(upper / name, 0o600 | 0o020000, os.makedev(0, 0))  # a whiteout
        for relative, mode in sorted(EMPTY_IN_IMAGE.items()):
            path = upper / relative
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(mode)
            os.setxattr(path, "trusted.overlay.opaque", b"y")
        (upper / "usr/local/bin").mkdir()
        for name in ("python", "python3", "python3.11"):
            (upper / "usr/local/bin" / name).symlink_to(HOST_PYTHON)
        for relative in ("etc/pip.conf", "etc/xdg/pip"):
            if Path("/", relative).exists():
                (upper / relative).parent.mkdir(parents=True, exist_ok=True)
                os.mknod(upper / relative, 0o600 | 0o020000, os.makedev(0, 0))

    def _env(self, instruction: Instruction) -> None:
        stage = self.stages[-1]
        values = {}
        for token in shlex.split(instruction.rest):
            name, sep, value = token.partition("=")
            if not sep:
                raise ReplayError(
                    f"line {instruction.line}: ENV without `=`: the replay knows only NAME=value"
                )
            values[name] = expand(value, stage.env)
        stage.env.update(values)

    def _workdir(self, instruction: Instruction) -> None:
        stage = self.stages[-1]
        stage.workdir = os.path.join(stage.workdir, expand(instruction.rest, stage.env))
        stage.path(stage.workdir).mkdir(parents=True, exist_ok=True)

    def _user(self, instruction: Instruction) -> None:
        self.stages[-1].user = expand(instruction.rest, self.stages[-1].env)

    def _expose(self, instruction: Instruction) -> None:
        self.stages[-1].expose += instruction.rest.split()

    def _healthcheck(self, instruction: Instruction) -> None:
        self.stages[-1].healthcheck = healthcheck_of(instruction)

    def _cmd(self, instruction: Instruction) -> None:
        self.stages[-1].cmd = instruction.command()

    def _copy(self, instruction: Instruction) -> None:
        stage = self.stages[-1]
        unknown = set(instruction.flags) - {"from", "chown", "chmod"}
        if unknown:
            raise ReplayError(f"line {instruction.line}: COPY --{unknown.pop()} is not replayed")
        *sources, dest = [expand(word, stage.env) for word in shlex.split(instruction.rest)]
        dest = os.path.join(stage.workdir, dest)
        owner = stage.ids(instruction.flags["chown"]) if "chown" in instruction.flags else (0, 0)
        mode = int(instruction.flags["chmod"], 8) if "chmod" in instruction.flags else None
        from_stage = None
        if "from" in instruction.flags:
            from_stage = next(s for s in self.stages if s.name == instruction.flags["from"])
        into_directory = dest.endswith("/") or len(sources) > 1 or stage.path(dest).is_dir()
        # Files from another stage are hard-linked when nothing about them changes (they are ours).
        link = from_stage is not None and "chown" not in instruction.flags and mode is None
        base = stage.path(dest)
        for source in sources:
            for relative, origin in self._sources(instruction, from_stage, source):
                if relative:  # inside a copied directory: its contents go into dest
                    target = base / relative
                elif origin.is_dir() or not into_directory:
                    target = base
                else:
                    target = base / os.path.basename(source.rstrip("/"))
                self._place(origin, target, owner, mode, link=link)

    def _sources(
        self, instruction: Instruction, from_stage: Stage | None, source: str
    ) -> list[tuple[str, Path]]:
        """(path below the source, where it is now): the source itself first, then what is in it."""
        if from_stage is not None:
            origin = from_stage.path(source)
            if not origin.exists():
                raise ReplayError(f"line {instruction.line}: stage {from_stage.name} has no {source}")
            found = [("", origin)]
            if origin.is_dir():
                found += sorted((str(path.relative_to(origin)), path) for path in origin.rglob("*"))
            return found
        relative = os.path.normpath(source).lstrip("/")
        if relative not in self.context_paths:
            raise ReplayError(
                f"line {instruction.line}: {source} is not in the build context (.dockerignore?)"
            )
        origin = self.context / relative
        found = [("", origin)]
        prefix = relative + "/"
        found += [
            (path[len(prefix) :], self.context / path)
            for path in self.context_paths
            if path.startswith(prefix)
        ]
        return found

    @staticmethod
    def _place(origin: Path, target: Path, owner: tuple[int, int], mode: int | None, *, link: bool) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_symlink():
            target.symlink_to(os.readlink(origin))
            os.lchown(target, *owner)
            return
        if origin.is_dir():
            target.mkdir(exist_ok=True)
            shutil.copystat(origin, target)
        elif link:
            os.link(origin, target)
            return  # the same file: its owner and mode as the other stage made them
        else:
            shutil.copy2(origin, target)
        os.chown(target, *owner)
        if mode is not None:
            target.chmod(mode)

    def _run(self, instruction: Instruction) -> None:
        stage = self.stages[-1]
        argv = instruction.command()
        binds: list[tuple[str, str, bool]] = []
        if argv[:2] == ["/bin/sh", "-c"] and PIP_INSTALL.search(argv[2]):
            argv = ["/bin/sh", "-c", PIP_INSTALL.sub(self._offline_pip, argv[2])]
            binds = self._replay_binds()
        uid, gid = stage.ids(stage.user)
        env = {**stage.env, "HOME": stage.home(uid)}
        spec = self.spec(stage, argv, uid=uid, gid=gid, env=env, binds=binds)
        done = subprocess.run(unshare_argv(self.launcher, spec), capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise ReplayError(
                f"line {instruction.line}: RUN failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            )

    def _offline_pip(self, match: re.Match[str]) -> str:
        venv = match.group("venv")
        return (
            f"{venv}/bin/python /replay/link-dependencies.py {venv} && "
            f"PYTHONPATH=/replay/build-tools {venv}/bin/pip install --no-index --no-build-isolation ."
        )

    def _replay_binds(self) -> list[tuple[str, str, bool]]:
        (self.replay / "link-dependencies.py").write_text(LINK_DEPENDENCIES)
        tools = self.replay / "build-tools"
        tools.mkdir(exist_ok=True)
        if not any(tools.iterdir()) and not build_tools(tools):
            pytest.skip("building offline needs the `wheel` package (Debian: apt-get install python3-wheel)")
        return [(str(self.replay), "/replay", True), *self.dependency_binds()]

    def dependency_binds(self) -> list[tuple[str, str, bool]]:
        """The runtime dependencies, read-only at /replay/deps, for the build and for every run after it."""
        if not self.dependencies.exists():
            site, files = dependency_manifest(runtime_distributions(self.context / "pyproject.toml"))
            link_tree(site, files, self.dependencies)
            (self.replay / "deps").mkdir(exist_ok=True)  # the mount point inside /replay
        return [(str(self.dependencies), "/replay/deps", True)]


# ----------------------------------------------------------------------------------- the container


class Container:
    """The final stage run as `docker run` would, with its output in `log`."""

    def __init__(self, image: Image, env: dict[str, str], binds: list[tuple[str, str, bool]]) -> None:
        stage = image.final
        assert stage.cmd is not None, "the Dockerfile has no CMD"
        self.stage = stage
        self.uid, self.gid = stage.ids(stage.user)
        self.env = {**stage.env, "HOME": stage.home(self.uid), "HOSTNAME": "buurtkas", **env}
        spec = image.spec(stage, stage.cmd, uid=self.uid, gid=self.gid, env=self.env, binds=binds)
        self.log_path = image.workdir / "container.log"
        self._log = self.log_path.open("w")
        self.unshare = subprocess.Popen(
            unshare_argv(image.launcher, spec), stdout=self._log, stderr=subprocess.STDOUT
        )
        self.pid = self._init_pid()

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _init_pid(self) -> int:
        """The container's PID 1 as the host sees it, once it has entered its root."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.unshare.poll() is None, f"the container stopped at once:\n{self.log}"
            children = Path(f"/proc/{self.unshare.pid}/task/{self.unshare.pid}/children")
            with contextlib.suppress(FileNotFoundError):
                pids = children.read_text().split()
                if pids and os.readlink(f"/proc/{pids[0]}/root") != "/":
                    return int(pids[0])
            time.sleep(0.05)
        raise AssertionError(f"the container did not start:\n{self.log}")

    def exec(self, argv: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Like `docker exec`: in the container's namespaces, root and working directory, as its USER."""
        enter = ["nsenter", "--target", str(self.pid), "--mount", "--net", "--pid", "--root", "--wd"]
        enter += ["--setuid", str(self.uid), "--setgid", str(self.gid), "--"]
        environment = [f"{name}={value}" for name, value in self.env.items()]
        return subprocess.run(
            [*enter, "/usr/bin/env", "-i", *environment, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def processes(self) -> list[tuple[int, list[int], str]]:
        """(host pid, real/effective/saved/fs uids, command line) of every process in the container."""
        namespace = os.readlink(f"/proc/{self.pid}/ns/pid")
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, PermissionError):
                if os.readlink(entry / "ns/pid") != namespace:
                    continue
                status = (entry / "status").read_text()
                uids = [int(v) for v in re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()]  # type: ignore[union-attr]
                gids = [int(v) for v in re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()]  # type: ignore[union-attr]
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                found.append((int(entry.name), uids + gids, command))
        return sorted(found)

    def stop(self) -> int | None:
        """`docker stop`: SIGTERM to PID 1, SIGKILL after 30 seconds. Returns PID 1's exit code."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        try:
            self.unshare.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.unshare.wait(30)
        self._log.close()
        return self.unshare.returncode


PROBE = """
import json, os, sys, urllib.error, urllib.request
answers = {}
for path, cookie in json.loads(sys.argv[1]):
    request = urllib.request.Request("http://127.0.0.1:%s%s" % (sys.argv[3], path))
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        response = urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as error:
        response = error
    answers[path + " " + cookie] = [response.status, response.headers.get("content-type"),
                                    response.read().decode("utf-8", "replace")]
import app, app.migrate
writable = []
for top in json.loads(sys.argv[2]):
    for directory, dirs, files in os.walk(top):
        writable += [os.path.join(directory, n) for n in [""] + dirs + files
                     if os.access(os.path.join(directory, n), os.W_OK)]
print(json.dumps({"answers": answers, "app": app.__file__, "root": str(app.migrate.ROOT),
                  "writable": sorted(set(p.rstrip("/") for p in writable)), "uid": os.getuid()}))
"""


# ------------------------------------------------------------------------------------------- tests


def test_the_dockerfile_says_what_the_replay_checks() -> None:
    """The parts of the Dockerfile the container test relies on, read as Docker reads them."""
    instructions = parse_dockerfile(DOCKERFILE.read_text())
    froms = [i for i in instructions if i.keyword == "FROM"]
    assert [i.rest.split(" AS ")[0] for i in froms] == [BASE_IMAGE, BASE_IMAGE]
    final = instructions[instructions.index(froms[-1]) :]
    users = [i.rest for i in final if i.keyword == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0"), "the runtime stage must not run as root"
    assert not any(i.flags.get("chown") for i in final if i.keyword == "COPY"), "the app's user owns no code"
    cmd = next(i for i in final if i.keyword == "CMD").command()
    assert cmd[:2] == ["sh", "-c"] and re.fullmatch(
        r"buurtkas db upgrade && exec buurtkas serve .*", cmd[2]
    ), cmd
    healthcheck = healthcheck_of(next(i for i in final if i.keyword == "HEALTHCHECK"))
    assert "/readyz" in healthcheck[-1]


def test_the_build_context_holds_only_what_the_image_needs(tmp_path: Path) -> None:
    """.dockerignore lets through the copied sources and nothing else: no var/ (print batches with voucher
    codes, the SQLite database), no .env, .venv, .git, tests or bytecode."""
    for relative in (
        "pyproject.toml",
        "app/cli.py",
        "app/x/__pycache__/y.pyc",
        "app/z.pyc",
        "templates/base.html",
        "var/print/codes.csv",
        ".env",
        ".git/config",
        "tests/conftest.py",
        "migrations/env.py",
        "alembic.ini",
        "scripts/run",
        "docs/screenshots/home.png",
    ):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("x")
    shutil.copy(ROOT / ".dockerignore", tmp_path / ".dockerignore")
    files = [path for path in context_paths(tmp_path) if (tmp_path / path).is_file()]
    assert files == [
        "alembic.ini",
        "app/cli.py",
        "migrations/env.py",
        "pyproject.toml",
        "templates/base.html",
    ]


@pytest.fixture
def replay_workdir() -> Iterator[Path]:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"):
        pytest.skip("replaying the Dockerfile needs root, unshare and nsenter (util-linux)")
    if not Path(HOST_PYTHON).exists():
        pytest.skip(f"replaying the Dockerfile needs {HOST_PYTHON} as the image's Python")
    # Not pytest's tmp_path: it keeps the last runs, and an image is a few hundred megabytes.
    directory = Path(tempfile.mkdtemp(prefix="buurtkas-image-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def socket_database(postgres_factory: PostgresFactory | None) -> Iterator[str]:
    """A fresh, unmigrated PostgreSQL database, reached through the server's Unix socket (the container
    has its own network, with only its loopback)."""
    if postgres_factory is None:
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL to run the image")
    server: URL = postgres_factory.server_url
    admin = create_engine(server, pool_size=1)
    with admin.connect() as conn:
        socket_dirs = str(conn.execute(text("SHOW unix_socket_directories")).scalar() or "")
    admin.dispose()
    socket_dir = os.path.realpath(socket_dirs.split(",")[0].strip()) if socket_dirs else ""
    with empty_postgres_database(server) as url:
        socket_url = URL.create(
            "postgresql",
            username=server.username,
            password=server.password,
            database=url.rsplit("/", 1)[1],
            query={"host": socket_dir},
        )
        probe = create_engine(socket_url.set(drivername="postgresql+psycopg"), pool_size=1)
        try:
            with probe.connect():
                pass
        except OperationalError as exc:
            pytest.skip(f"the test server cannot be reached through its socket {socket_dir}: {exc}")
        finally:
            probe.dispose()
        yield socket_url.render_as_string(hide_password=False)


def test_the_image_migrates_then_serves_as_a_user_who_cannot_change_its_code(
    replay_workdir: Path, socket_database: str
) -> None:
    image = Image(ROOT, replay_workdir)
    image.build(parse_dockerfile(DOCKERFILE.read_text()))
    stage = image.final
    assert f"{WEB_PORT}" in [port.split("/")[0] for port in stage.expose]
    assert stage.healthcheck is not None

    # What the image holds where the app runs: the copied sources and var/, nothing else.
    workdir = stage.path(stage.workdir)
    assert sorted(os.listdir(workdir)) == ["alembic.ini", "app", "migrations", "templates", "var"]
    assert not list(workdir.rglob("__pycache__")), "bytecode from the build context"
    assert (workdir / "app/locale/en/LC_MESSAGES/messages.po").is_file()
    assert (workdir / "app/static/css/utrecht.css").is_file()
    assert (workdir / "app/letters/fonts/DejaVuSans.ttf").is_file()
    assert stage.path("/opt/venv/bin/buurtkas").is_file()
    installed = {path.name for path in image.dependencies.iterdir()}
    installed |= {path.name for path in stage.path("/opt/venv/lib").glob("python3*/site-packages/*")}
    assert {"fastapi", "uvicorn", "psycopg", "buurtkas-0.1.0.dist-info", "app"} <= installed
    dev_only = installed & {"pytest", "mypy", "ruff", "playwright", "localstripe", "hypothesis", "bs4"}
    assert not dev_only, f"development tools in the image: {dev_only}"

    socket_path = str(make_url(socket_database).query["host"])
    run_env = {
        "DATABASE_URL": socket_database,
        "SECRET_KEY": "image-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
        "BASE_URL": "https://buurtkas.example.nl",
        "DB_POOL_SIZE": "3",
        "DB_MAX_OVERFLOW": "2",
    }
    before = {str(p.relative_to(stage.upper)) for p in stage.upper.rglob("*")}
    binds = [*image.dependency_binds(), (socket_path, socket_path, False)]
    container = Container(image, run_env, binds=binds)
    try:
        # Healthy: the HEALTHCHECK command, run in the container as Docker would, exits 0 (it is tried
        # every half second here until the server is up or two minutes have passed).
        deadline = time.monotonic() + 120
        while True:
            assert container.unshare.poll() is None, f"the container stopped:\n{container.log}"
            health = container.exec(stage.healthcheck)
            if health.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert health.returncode == 0, f"HEALTHCHECK failed:\n{health.stderr}\n{container.log}"

        # Migrations ran first, to the head revision, then the server started (PID 1 is the server
        # itself, thanks to `exec`, so `docker stop` reaches it).
        log = container.log
        assert "database is up to date" in log, log
        assert log.index("database is up to date") < log.index("Started parent process"), log
        engine = create_engine(make_url(socket_database).set(drivername="postgresql+psycopg"), pool_size=1)
        with engine.connect() as conn:
            revisions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        engine.dispose()
        assert revisions == set(ScriptDirectory.from_config(alembic_config()).get_heads())

        # Every process in the container runs as 10001:10001, PID 1 and a worker per WORKERS (2).
        processes = container.processes()
        assert processes, container.log
        assert all(ids == [10001] * 8 for _, ids, _ in processes), processes
        init = next(command for pid, _, command in processes if pid == container.pid)
        assert "buurtkas serve" in init and "--workers 2" in init, init
        workers = [command for _, _, command in processes if "spawn_main" in command]
        assert len(workers) == 2, processes

        # From inside: pages answer, the code is the image's, and the user can write only var/.
        requests = [
            ["/readyz", ""],
            ["/healthz", ""],
            ["/", ""],
            ["/", "bk_lang=en"],
            ["/static/css/utrecht.css", ""],
        ]
        probe = container.exec(
            [
                "python",
                "-c",
                PROBE,
                json.dumps(requests),
                json.dumps(["/srv/buurtkas", "/opt/venv"]),
                str(WEB_PORT),
            ]
        )
        assert probe.returncode == 0, probe.stderr
        seen = json.loads(probe.stdout)
        answers = seen["answers"]
        assert answers["/readyz "][:2] == [200, "application/json"] and json.loads(
            answers["/readyz "][2]
        ) == {"status": "ok"}
        assert answers["/healthz "][0] == 200
        assert answers["/ "][0] == 200 and 'lang="nl"' in answers["/ "][2]
        english = answers["/ bk_lang=en"]  # the catalogue is read from app/locale at run time
        assert english[0] == 200 and 'lang="en"' in english[2] and "Skip to content" in english[2]
        assert answers["/static/css/utrecht.css "][:2] == [200, "text/css; charset=utf-8"]
        assert seen["app"] == "/srv/buurtkas/app/__init__.py"
        assert seen["root"] == "/srv/buurtkas"
        assert seen["uid"] == 10001
        assert seen["writable"] == ["/srv/buurtkas/var", "/srv/buurtkas/var/media"], seen["writable"]

        # The operator's commands work the same way (`docker exec … buurtkas ledger verify`).
        verify = container.exec(["buurtkas", "ledger", "verify"])
        assert verify.returncode == 0 and verify.stdout.strip().endswith(": OK"), verify
    finally:
        code = container.stop()
    assert code == 0, f"the server did not stop cleanly on SIGTERM ({code}):\n{container.log}"
    # What the running container wrote: only var/ and the metrics directory in /tmp.
    mount_points = {
        str(path).lstrip("/")
        for _, target, _ in binds
        for path in (PurePosixPath(target), *PurePosixPath(target).parents)
    }
    written = {str(p.relative_to(stage.upper)) for p in stage.upper.rglob("*")} - before - mount_points
    assert written and all(p.startswith(("srv/buurtkas/var/", "tmp/buurtkas-metrics")) for p in written), (
        written
    )
