"""Benchmarks of the reference bridge and the plugin against the baselines users would pick.

Run from a checkout with ``python -m benchmarks`` (or ``wsbridge bench``); see
``benchmarks/README.md``. Every benchmark measures its baseline in the same run and reports
the ratio. Not shipped in the wheel.
"""

from __future__ import annotations

__all__: list[str] = []
