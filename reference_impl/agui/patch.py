"""RFC 6902 JSON Patch, applied atomically to a copy, for the validator's state tracking.

:func:`apply_patch` returns the patched copy and ``None``, or the untouched document and the
reason the patch does not apply (which operation, and why). Pure and dependency-free.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

__all__ = ["apply_patch"]


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def _index(container: list[Any], token: str, *, adding: bool) -> int:
    if adding and token == "-":
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise ValueError(f"{token!r} is not an array index")
    index = int(token)
    limit = len(container) if adding else len(container) - 1
    if index > limit:
        raise ValueError(f"index {index} is out of range")
    return index


def _parent(doc: Any, pointer: str) -> tuple[Any, str]:
    tokens = _tokens(pointer)
    if not tokens:
        raise ValueError("the root has no parent")
    target = doc
    for token in tokens[:-1]:
        target = _get(target, token)
    return target, tokens[-1]


def _get(container: Any, token: str) -> Any:
    if isinstance(container, dict):
        if token not in container:
            raise ValueError(f"no member {token!r}")
        return container[token]
    if isinstance(container, list):
        return container[_index(container, token, adding=False)]
    raise ValueError(f"cannot step into a {type(container).__name__} with {token!r}")


def _resolve(doc: Any, pointer: str) -> Any:
    target = doc
    for token in _tokens(pointer):
        target = _get(target, token)
    return target


def _add(doc: Any, pointer: str, value: Any) -> Any:
    if pointer == "":
        return value
    parent, token = _parent(doc, pointer)
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, token, adding=True), value)
    else:
        raise ValueError(f"cannot add into a {type(parent).__name__}")
    return doc


def _remove(doc: Any, pointer: str) -> tuple[Any, Any]:
    if pointer == "":
        raise ValueError("cannot remove the whole document")
    parent, token = _parent(doc, pointer)
    if isinstance(parent, dict):
        if token not in parent:
            raise ValueError(f"no member {token!r} to remove")
        return doc, parent.pop(token)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, token, adding=False))
    raise ValueError(f"cannot remove from a {type(parent).__name__}")


def apply_patch(document: Any, patch: Sequence[Any]) -> tuple[Any, str | None]:
    """``(patched copy, None)``, or ``(document, why it does not apply)``; atomic."""
    doc = copy.deepcopy(document)
    for number, op in enumerate(patch):
        try:
            doc = _apply_one(doc, op)
        except ValueError as exc:
            return document, f"operation {number} ({op.get('op')!r} at {op.get('path')!r}): {exc}"
        except (KeyError, TypeError, AttributeError) as exc:
            return document, f"operation {number} is malformed ({exc!r})"
    return doc, None


def _apply_one(doc: Any, op: Any) -> Any:
    name = op["op"]
    path = op["path"]
    if name == "add":
        return _add(doc, path, copy.deepcopy(op["value"]))
    if name == "remove":
        return _remove(doc, path)[0]
    if name == "replace":
        _resolve(doc, path)
        if path:
            doc = _remove(doc, path)[0]
        return _add(doc, path, copy.deepcopy(op["value"]))
    if name == "move":
        source = op["from"]
        if path != source and path.startswith(source + "/"):
            raise ValueError("cannot move a value into itself")
        doc, value = _remove(doc, source) if source else (doc, doc)
        return _add(doc, path, value)
    if name == "copy":
        return _add(doc, path, copy.deepcopy(_resolve(doc, op["from"])))
    if name == "test":
        if _resolve(doc, path) != op["value"]:
            raise ValueError("the test failed")
        return doc
    raise ValueError(f"unknown op {name!r}")
