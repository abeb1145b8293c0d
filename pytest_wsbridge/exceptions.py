"""Every exception the plugin raises, under one base.

The tree, and whose fault each branch is::

    WsBridgePluginError
    ├── FactoryError         a bridge factory string that cannot be used (the user's settings)
    ├── SettingsError        an option or ini value the plugin cannot use (the user's settings)
    ├── ReplayUnsupported    a connection resumed (``last_seq``) on a bridge with no ``replay``
    │                        (the bridge under test)
    ├── CaseError            a bridge misbehaved on valid input so that a compliance case
    │                        cannot go on (the bridge under test)
    ├── ComplianceFailed     a compliance case's verdict is FAILED: the failure of its pytest
    │                        item (the bridge under test)
    ├── CoverageUnavailable  ``wsbridge check --coverage`` without the coverage package, or
    │                        with nothing of the bridge's package run (the user's setup)
    └── AguiError            the AG-UI readers' branch, in :mod:`pytest_wsbridge.agui.exceptions`
        └── AguiSourceError  an AG-UI source that cannot be read at all

``FactoryError`` and ``SettingsError`` also derive from :class:`ValueError` and
``ReplayUnsupported`` from :class:`RuntimeError`, so code that catches the built-in categories
keeps working. Violations of the checks are not exceptions: they fail the test through
``pytest.fail`` with the report (see :mod:`pytest_wsbridge.checks`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .compliance.model import CaseResult

__all__ = [
    "CaseError",
    "ComplianceFailed",
    "CoverageUnavailable",
    "FactoryError",
    "ReplayUnsupported",
    "SettingsError",
    "WsBridgePluginError",
]


class WsBridgePluginError(Exception):
    """The base of every exception pytest-wsbridge's plugin raises."""


class FactoryError(WsBridgePluginError, ValueError):
    """A factory string that cannot be used; the message says why and how to fix it."""


class SettingsError(WsBridgePluginError, ValueError):
    """A setting with a value the plugin cannot use; the message names the valid values."""


class ReplayUnsupported(WsBridgePluginError, RuntimeError):
    """Raised when a connection resumes (``last_seq``) and the bridge has no ``replay``."""


class CaseError(WsBridgePluginError):
    """A bridge misbehaved on valid input in a way the case cannot go on from."""


class ComplianceFailed(WsBridgePluginError):
    """A case got FAILED; carries the result for the failure report."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.id)
        self.result = result


class CoverageUnavailable(WsBridgePluginError):
    """``--coverage`` cannot measure: coverage is not installed, or nothing of the package ran."""
