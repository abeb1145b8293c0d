"""pytest-wsbridge: prove that a WebSocket bridge delivers every agent event to the right thread.

What a user's own tests and tools import: the fakes (a truthful connection manager with fault
injection, orchestrator stand-ins), the fixture's server type, the report types, the ledger,
and the plugin's exceptions (``AguiError`` is what the AG-UI readers raise). The plugin itself
(``pytest11: wsbridge``) is :mod:`pytest_wsbridge.plugin`; the compliance suite is
:mod:`pytest_wsbridge.compliance`.
"""

from __future__ import annotations

# One version for the distribution: reference_impl.__version__ (pyproject.toml reads it too).
from reference_impl import __version__

from .agui.exceptions import AguiError
from .agui.readers import AguiStream
from .agui.testing import AguiCollector, assert_agui_conformant, record_agui_stream
from .checks import EventRef, FailFastOutcome, Violation
from .exceptions import (
    CaseError,
    ComplianceFailed,
    FactoryError,
    ReplayUnsupported,
    SettingsError,
    WsBridgePluginError,
)
from .factory import call_factory, load_factory
from .fakes import (
    Delivery,
    FakeConnection,
    FakeConnectionManager,
    FalseHealthOrchestrator,
    HangingOrchestrator,
    UnhealthyOrchestrator,
)
from .ledger import Ledger
from .realserver import RealWsServer
from .report import SessionReport, TestRecord

__all__ = [
    "AguiCollector",
    "AguiError",
    "AguiStream",
    "CaseError",
    "ComplianceFailed",
    "Delivery",
    "EventRef",
    "FactoryError",
    "FailFastOutcome",
    "FakeConnection",
    "FakeConnectionManager",
    "FalseHealthOrchestrator",
    "HangingOrchestrator",
    "Ledger",
    "RealWsServer",
    "ReplayUnsupported",
    "SessionReport",
    "SettingsError",
    "TestRecord",
    "UnhealthyOrchestrator",
    "Violation",
    "WsBridgePluginError",
    "__version__",
    "assert_agui_conformant",
    "call_factory",
    "load_factory",
    "record_agui_stream",
]
