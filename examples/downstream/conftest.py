"""Point pytest-wsbridge at this project's bridge (the plugin's fixtures use this factory)."""

import pytest


@pytest.fixture
def wsbridge_factory() -> str:
    return "chatapp.bridge:create_bridge"
