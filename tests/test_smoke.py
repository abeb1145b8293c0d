"""The package imports and re-exports what it declares."""

from __future__ import annotations

import reference_impl


def test_every_public_name_is_exported() -> None:
    for name in reference_impl.__all__:
        assert hasattr(reference_impl, name), name
