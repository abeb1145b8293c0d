"""The reference bridge: agent events to the right WebSocket connections, none lost.

Start with :func:`create_bridge`; see the README for the server, client and backends.
"""

from __future__ import annotations

from .adapter import AgentBase, WebSocketBridgeAdapter
from .backends import Backend, MemoryBackend
from .bridge import AgentWebSocketBridge, DeliveryReceipt, create_bridge
from .connections import Connection, ConnectionManager, LocalConnection
from .eventlog import EventLog, LogHead
from .events import EventDraft, EventMessage, EventType
from .exceptions import (
    BackendUnavailableError,
    BridgeNotSetError,
    InvalidEventError,
    InvalidResumePoint,
    LifecycleError,
    OrchestratorInitError,
    ProtocolError,
    RegistryConflictError,
    ResyncRequired,
    ThreadResolutionError,
    WsBridgeError,
)
from .ids import generate_run_id, is_standard_run_id, thread_id_from_run_id, validate_thread_id
from .lifecycle import LifecycleViolation, check_run_lifecycle, check_runs
from .metrics import BridgeMetrics
from .orchestrator import Orchestrator, ReferenceOrchestrator, check_orchestrator
from .registry import Lookup, LookupMiss, ThreadRegistry
from .sequence import SequenceViolation, check_thread_sequence

__version__ = "0.1.0"

__all__ = [
    "AgentBase",
    "AgentWebSocketBridge",
    "Backend",
    "BackendUnavailableError",
    "BridgeMetrics",
    "BridgeNotSetError",
    "Connection",
    "ConnectionManager",
    "DeliveryReceipt",
    "EventDraft",
    "EventLog",
    "EventMessage",
    "EventType",
    "InvalidEventError",
    "InvalidResumePoint",
    "LifecycleError",
    "LifecycleViolation",
    "LocalConnection",
    "LogHead",
    "Lookup",
    "LookupMiss",
    "MemoryBackend",
    "Orchestrator",
    "OrchestratorInitError",
    "ProtocolError",
    "ReferenceOrchestrator",
    "RegistryConflictError",
    "ResyncRequired",
    "SequenceViolation",
    "ThreadRegistry",
    "ThreadResolutionError",
    "WebSocketBridgeAdapter",
    "WsBridgeError",
    "__version__",
    "check_orchestrator",
    "check_run_lifecycle",
    "check_runs",
    "check_thread_sequence",
    "create_bridge",
    "generate_run_id",
    "is_standard_run_id",
    "thread_id_from_run_id",
    "validate_thread_id",
]
