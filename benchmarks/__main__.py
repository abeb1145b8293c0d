"""``python -m benchmarks``: run the benchmarks and print the table."""

from __future__ import annotations

from .cli import main

__all__: list[str] = []

raise SystemExit(main())
