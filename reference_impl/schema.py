"""The wire message's JSON Schema; ``python -m reference_impl.schema`` prints it."""

from __future__ import annotations

import json
from typing import Any

from .events import PAYLOAD_MODELS, EventMessage

__all__ = ["wire_schema"]


def wire_schema() -> dict[str, Any]:
    """Return the JSON Schema of :class:`EventMessage`, with each payload's schema by type."""
    schema = EventMessage.model_json_schema()
    schema["$id"] = "https://pytest-wsbridge.invalid/schema/event-message.json"
    schema["x-payloads"] = {
        kind: model.model_json_schema() for kind, model in PAYLOAD_MODELS.items()
    }
    return schema


def main() -> None:
    """Print the schema as indented JSON."""
    print(json.dumps(wire_schema(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
