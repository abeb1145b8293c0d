"""AG-UI 1.1 conformance, pure: the rule catalogue, the shape checks, the SSE wire decoder and
the sans-I/O :class:`Validator` (feed events one at a time, then finish).

    from reference_impl.agui import Validator
    v = Validator(input=None)
    for event in events:
        v.feed(event)          # -> list[Finding] for this event
    v.finish()                 # -> list[Finding] for the end of the stream
    v.report("my-source").conformant

The reference bridge's relay counts and logs what this reports; the ``wsbridge agui verify`` CLI
and the pytest helpers read streams from files, HTTP, WebSocket or an ASGI app and judge them here.
"""

from __future__ import annotations

from .rules import RULES, RULES_BY_ID, SPEC_BASE, Rule, Severity, rule
from .shapes import EVENT_TYPES, check_event_shape, check_run_agent_input
from .sse import (
    SseDecoder,
    SseEvent,
    SseItem,
    WireProblem,
    check_http_response,
    feed_validator,
    verify_sse,
)
from .validator import SPEC_VERSION, Finding, Report, Validator, validate_events

__all__ = [
    "EVENT_TYPES",
    "RULES",
    "RULES_BY_ID",
    "SPEC_BASE",
    "SPEC_VERSION",
    "Finding",
    "Report",
    "Rule",
    "Severity",
    "SseDecoder",
    "SseEvent",
    "SseItem",
    "Validator",
    "WireProblem",
    "check_event_shape",
    "check_http_response",
    "check_run_agent_input",
    "feed_validator",
    "rule",
    "validate_events",
    "verify_sse",
]
