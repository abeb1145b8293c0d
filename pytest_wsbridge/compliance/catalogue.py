"""Write the compliance cases' table into ``docs/compliance.md`` from the case registry.

``python -m pytest_wsbridge.compliance.catalogue [PATH]`` replaces what lies between the
``<!-- compliance-cases:begin ... -->`` and ``<!-- compliance-cases:end -->`` markers of PATH
(default ``docs/compliance.md``) with :func:`~pytest_wsbridge.compliance.cli.cases_table` of
every packaged case, the table ``wsbridge check --list`` prints, and leaves the rest of the page
alone. A test checks the committed page holds that table, so the docs cannot drift from the suite.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from . import CASES
from .cli import cases_table

__all__ = ["BEGIN", "DEFAULT_PATH", "END", "main", "with_cases_table"]

DEFAULT_PATH = Path("docs") / "compliance.md"
BEGIN = "<!-- compliance-cases:begin"
END = "<!-- compliance-cases:end -->"


def with_cases_table(page: str, table: str | None = None) -> str:
    """``page`` with the text between its markers replaced by ``table`` (default: every case).

    Raises :class:`ValueError` when the page lacks either marker, or has them out of order.
    """
    begin = page.find(BEGIN)
    end = page.find(END)
    if begin < 0 or end < 0 or end < begin:
        raise ValueError(f"the page needs a line starting {BEGIN!r} and, after it, {END!r}")
    after_begin = page.index("\n", begin) + 1
    body = cases_table(CASES) if table is None else table
    return page[:after_begin] + body.rstrip("\n") + "\n" + page[end:]


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite the table in ``argv[0]`` (default ``docs/compliance.md``); 2 on a bad page."""
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0]) if args else DEFAULT_PATH
    try:
        page = path.read_text(encoding="utf-8")
        path.write_text(with_cases_table(page), encoding="utf-8")
    except (OSError, ValueError) as exc:
        print(f"compliance catalogue: {path}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
