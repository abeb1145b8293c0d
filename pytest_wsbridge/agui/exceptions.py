"""Every exception the AG-UI readers raise.

The tree (a branch of :class:`pytest_wsbridge.exceptions.WsBridgePluginError`)::

    AguiError
    └── AguiSourceError     a source cannot be read at all: missing file, not JSON, connection
                            refused, a WebSocket server that refuses the subscription or the run,
                            a RunAgentInput file that is not one (the CLI's exit status 2)

A stream that *can* be read is never an exception, however broken: what is wrong with it is a
finding in the report.
"""

from __future__ import annotations

from ..exceptions import WsBridgePluginError

__all__ = ["AguiError", "AguiSourceError"]


class AguiError(WsBridgePluginError):
    """Base of the AG-UI readers' errors."""


class AguiSourceError(AguiError):
    """A source could not be read (the message says which and why)."""
