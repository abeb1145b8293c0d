"""examples/downstream passes strict mode, and its switchable bugs fail it as its README shows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "downstream"


@pytest.mark.parametrize(
    ("bug", "outcomes", "lines"),
    [
        ("", {"passed": 5}, ["*events emitted: 10, delivered: 10*"]),
        (
            "fallback",
            {"passed": 4, "failed": 1},
            [
                "*_ test_a_registered_run_reaches_its_thread _*",
                "*[[]threads[]] run 'run_xyz789' (thread 'thread_abc123'): events routed*",
                "*sent to thread 'run_xyz789' (the run id itself: the run-id fallback)*",
            ],
        ),
    ],
)
def test_example_project(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    bug: str,
    outcomes: dict[str, int],
    lines: list[str],
) -> None:
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True, ignore=_caches)
    monkeypatch.setenv("CHATAPP_BUG", bug)
    result = pytester.runpytest(
        "--wsbridge-strict",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
    )
    result.assert_outcomes(**outcomes)
    result.stdout.fnmatch_lines(lines)


def _caches(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n in ("__pycache__", ".pytest_cache")]
