"""An agent backend that adopts the reference bridge directly (see this example's README)."""

from __future__ import annotations

from .app import AgentService, AnswerAgent, StarletteTransport, build_service, create_app

__all__ = ["AgentService", "AnswerAgent", "StarletteTransport", "build_service", "create_app"]
