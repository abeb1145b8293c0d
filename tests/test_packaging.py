"""The distribution as users get it: one version, sdist and wheel contents, the wheel in a new venv.

The build and install tests are marked ``slow`` (about 10-20 s, bounded by subprocess timeouts)
and stay in the default run. They need no network: the build uses this environment's
setuptools, and the new venv gets its requirements from wheels repacked from this environment.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import pytest_wsbridge
import reference_impl

ROOT = Path(__file__).resolve().parents[1]
DIST = "pytest-wsbridge"
PACKAGES = ("reference_impl", "pytest_wsbridge")
FLOOR_CONSTRAINTS = ROOT / ".ci" / "constraints-floor.txt"

# What a tree copy for building leaves out: caches, environments, earlier build output.
SKIP_IN_COPY = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".ci-venv",
    ".tox",
    "__pycache__",
    "*.pyc",
    "*.egg-info",
    "build",
    "dist",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    ".coverage*",
    "htmlcov",
)


def _run(
    args: list[str | os.PathLike[str]], *, cwd: Path, timeout: float, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run a command; on a non-zero exit fail with its output."""
    done = subprocess.run(
        [os.fspath(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited {done.returncode}\n"
            f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
        )
    return done


def _clean_env() -> dict[str, str]:
    """This process's environment without what would leak the outer test run into a child."""
    leaks = ("PYTHONPATH", "VIRTUAL_ENV", "PYTEST_", "COV_CORE_", "COVERAGE_")
    return {k: v for k, v in os.environ.items() if not k.startswith(leaks)}


# -- one version, one set of minimums -------------------------------------------------------------


def test_version_is_written_once_and_changelogged() -> None:
    installed = importlib.metadata.version(DIST)
    assert installed == reference_impl.__version__ == pytest_wsbridge.__version__
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## \[(\d[^\]]*)\]", changelog, flags=re.MULTILINE)
    assert versions, "CHANGELOG.md has no '## [X.Y.Z]' heading"
    assert versions[0] == installed, (
        f"CHANGELOG.md's newest version is {versions[0]}, the package is {installed}"
    )


def test_floor_constraints_pin_exactly_the_declared_minimums() -> None:
    declared: dict[str, str] = {}
    for line in importlib.metadata.requires(DIST) or []:
        req = Requirement(line)
        if req.marker is not None:
            continue  # an extra's dependency
        (minimum,) = [s.version for s in req.specifier if s.operator == ">="]
        declared[req.name] = minimum
    pinned: dict[str, str] = {}
    for line in FLOOR_CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            (pin,) = [s.version for s in req.specifier if s.operator == "=="]
            pinned[req.name] = pin
    assert {k: _release(v) for k, v in pinned.items()} == {
        k: _release(v) for k, v in declared.items()
    }


def _release(version: str) -> tuple[int, ...]:
    """``"7.0" -> (7,)`` and ``"7.0.0" -> (7,)``: compare versions, not spellings."""
    parts = [int(p) for p in version.split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


# -- build ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dists:
    sdist: Path
    wheel: Path
    source: Path


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """``python -m build`` on a copy of the tree: an sdist, then a wheel built from that sdist.

    ``--no-isolation`` uses this environment's setuptools (the ``test`` extra pins the same
    bound as ``build-system.requires``); tox's own package build covers the isolated one.
    """
    source = tmp_path_factory.mktemp("source") / "pytest-wsbridge"
    shutil.copytree(ROOT, source, ignore=SKIP_IN_COPY)
    out = tmp_path_factory.mktemp("dist")
    _run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", out, source],
        cwd=source,
        timeout=120,
        env=_clean_env(),
    )
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return Dists(sdist=sdist, wheel=wheel, source=source)


def _package_data(source: Path) -> set[str]:
    """Every non-Python file inside the packages of ``source``, as wheel paths."""
    found: set[str] = set()
    for package in PACKAGES:
        for path in (source / package).rglob("*"):
            if path.is_file() and path.suffix not in (".py", ".pyc"):
                found.add(path.relative_to(source).as_posix())
    return found


@pytest.mark.slow
def test_wheel_ships_both_packages_their_data_and_entry_points(dists: Dists) -> None:
    version = reference_impl.__version__
    assert dists.wheel.name == f"pytest_wsbridge-{version}-py3-none-any.whl"
    with zipfile.ZipFile(dists.wheel) as wheel:
        names = set(wheel.namelist())
        info = f"pytest_wsbridge-{version}.dist-info"
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
        metadata = wheel.read(f"{info}/METADATA").decode()
    data = _package_data(dists.source)
    assert {"reference_impl/py.typed", "pytest_wsbridge/py.typed"} <= data
    assert data <= names, f"package data missing from the wheel: {sorted(data - names)}"
    assert not [n for n in names if n.startswith(("tests/", "examples/", "benchmarks/"))]
    assert re.search(r"^\[pytest11\]\s*\nwsbridge = pytest_wsbridge\.plugin$", entry_points, re.M)
    assert "wsbridge = pytest_wsbridge.cli:main" in entry_points
    assert "Classifier: Framework :: Pytest" in metadata
    assert f"Version: {version}" in metadata
    assert "License-Expression: MIT" in metadata


@pytest.mark.slow
def test_sdist_carries_tests_examples_and_project_files(dists: Dists) -> None:
    with tarfile.open(dists.sdist) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    expected = {
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "pyproject.toml",
        "tox.ini",
        ".ci/constraints-floor.txt",
        "tests/test_packaging.py",
        *_package_data(dists.source),
    }
    for folder in ("tests", "examples"):
        expected |= {
            p.relative_to(dists.source).as_posix()
            for p in (dists.source / folder).rglob("*")
            if p.is_file()
        }
    assert expected <= names, f"missing from the sdist: {sorted(expected - names)}"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


# -- the wheel in a fresh venv, used the way a downstream project uses it ------------------------


def _runtime_dependencies(dist_name: str) -> list[importlib.metadata.Distribution]:
    """The installed distributions ``dist_name`` needs at run time (no extras), transitively."""
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = [Requirement(line) for line in importlib.metadata.requires(dist_name) or []]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        key = canonicalize_name(req.name)
        if key not in found:
            found[key] = importlib.metadata.distribution(req.name)
            todo.extend(Requirement(line) for line in found[key].requires or [])
    return list(found.values())


def _repack(dist: importlib.metadata.Distribution, into: Path) -> Path:
    """Write an installed distribution back into a wheel (its files per RECORD, a new RECORD).

    Scripts and other files outside site-packages are left out: the installer makes scripts
    again from ``entry_points.txt``.
    """
    wheel_info = dist.read_text("WHEEL") or ""
    tag = next(
        (
            line.split(":", 1)[1].strip()
            for line in wheel_info.splitlines()
            if line.startswith("Tag:")
        ),
        None,
    )
    if tag is None or dist.files is None:
        pytest.fail(f"{dist.metadata['Name']} was not installed from a wheel; cannot repack it")
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
    info_dir = next(f.parts[0] for f in dist.files if f.parts[0].endswith(".dist-info"))
    skip = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
    target = into / f"{name}-{dist.version}-{tag}.whl"
    record: list[str] = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as wheel:
        for file in dist.files:
            arcname = file.as_posix()
            if arcname.startswith("..") or "__pycache__" in file.parts:
                continue
            if file.parts[0] == info_dir and file.name in skip:
                continue
            data = Path(str(file.locate())).read_bytes()
            wheel.writestr(arcname, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{arcname},sha256={digest.decode()},{len(data)}")
        record.append(f"{info_dir}/RECORD,,")
        wheel.writestr(f"{info_dir}/RECORD", "\n".join(record) + "\n")
    return target


@pytest.fixture(scope="module")
def fresh_venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv with only the wheel and what it requires installed; its bin dir.

    The requirements come from a wheelhouse of the versions installed here (so the floor env
    checks the floor), and pip resolves the wheel's metadata against it with ``--no-index``:
    no network, and a requirement the wheel forgot to declare is an import error below.
    """
    home = tmp_path_factory.mktemp("venv")
    wheelhouse = tmp_path_factory.mktemp("wheelhouse")
    for dist in _runtime_dependencies(DIST):
        _repack(dist, wheelhouse)
    venv.EnvBuilder(with_pip=False, clear=True).create(home)
    bin_dir = home / "bin"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            bin_dir / "python",
            "install",
            "-q",
            "--no-compile",
            "--no-index",
            "--find-links",
            wheelhouse,
            dists.wheel,
        ],
        cwd=home,
        timeout=120,
        env=_clean_env(),
    )
    return bin_dir


@pytest.fixture
def downstream(dists: Dists, tmp_path: Path) -> Path:
    """``examples/downstream`` (its own bridge, conftest and tests) as the sdist ships it."""
    with tarfile.open(dists.sdist) as sdist:
        prefix = sdist.getnames()[0].split("/")[0] + "/examples/downstream/"
        members = [m for m in sdist.getmembers() if m.name.startswith(prefix) and m.isfile()]
        assert members, "the sdist has no examples/downstream"
        for member in members:
            target = tmp_path / member.name[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            source = sdist.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())
    return tmp_path


def _pytest_in(
    bin_dir: Path, project: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [os.fspath(bin_dir / "python"), "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=project,
        env={**_clean_env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_installed_wheel_passes_a_downstream_project_under_strict(
    fresh_venv: Path, downstream: Path
) -> None:
    done = _pytest_in(fresh_venv, downstream, "--wsbridge-strict")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert re.search(r"^plugins: .*\bwsbridge-", out, re.M), out
    assert re.search(r"^factory chatapp\.bridge:create_bridge, strict on$", out, re.M), out
    assert re.search(r"^violations by check: delivery 0, threads 0, fail_fast 0", out, re.M), out
    where = _run(
        [fresh_venv / "python", "-c", "import pytest_wsbridge; print(pytest_wsbridge.__file__)"],
        cwd=downstream,
        timeout=60,
        env=_clean_env(),
    )
    assert Path(where.stdout.strip()).is_relative_to(fresh_venv.parent), where.stdout
    cli = _run([fresh_venv / "wsbridge", "--help"], cwd=downstream, timeout=60, env=_clean_env())
    assert "usage: wsbridge" in cli.stdout


@pytest.mark.slow
def test_installed_wheel_fails_the_run_id_fallback_under_strict(
    fresh_venv: Path, downstream: Path
) -> None:
    done = _pytest_in(fresh_venv, downstream, "--wsbridge-strict", CHATAPP_BUG="fallback")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "[threads] run 'run_xyz789' (thread 'thread_abc123')" in out, out
    assert "the run-id fallback" in out, out
