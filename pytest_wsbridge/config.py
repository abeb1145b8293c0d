"""The plugin's settings: command line and ini values parsed into one plain dataclass.

Every option is paired with an ini key and the command line wins over the ini. A value that
cannot be used raises :class:`SettingsError` naming the valid ones; the plugin turns it into
``pytest.UsageError``. Nothing here imports pytest.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .exceptions import SettingsError
from .factory import DEFAULT_FACTORY

__all__ = [
    "DEFAULT_DELIVERY_TIMEOUT",
    "DEFAULT_INIT_TIMEOUT",
    "REPORT_SUFFIXES",
    "SettingsError",
    "WsBridgeSettings",
    "parse_settings",
]

DEFAULT_DELIVERY_TIMEOUT = 2.0
DEFAULT_INIT_TIMEOUT = 5.0
REPORT_SUFFIXES = (".json", ".html")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class WsBridgeSettings:
    """What the plugin was asked to do in this session."""

    strict: bool = False
    factory: str = DEFAULT_FACTORY
    report: Path | None = None
    delivery_timeout: float = DEFAULT_DELIVERY_TIMEOUT
    init_timeout: float = DEFAULT_INIT_TIMEOUT
    compliance: bool = False


Lookup = Callable[[str], object]
"""``name -> value``; ``None`` (or ``""`` for ini keys) means "not set"."""


def parse_settings(option: Lookup, ini: Lookup) -> WsBridgeSettings:
    """Build the settings from command-line ``option`` and ``ini`` lookups (command line wins).

    Option names are the ``dest`` names (``wsbridge_strict``), ini names the ini keys.
    """

    def pick(name: str) -> object:
        value = option(name)
        if value is not None:
            return value
        value = ini(name)
        return None if value in ("", [], None) else value

    report = pick("wsbridge_report")
    return WsBridgeSettings(
        strict=_boolean("wsbridge_strict", pick("wsbridge_strict"), default=False),
        factory=_factory(pick("wsbridge_factory")),
        report=_report_path(report) if report is not None else None,
        delivery_timeout=_seconds(
            "wsbridge_delivery_timeout",
            pick("wsbridge_delivery_timeout"),
            DEFAULT_DELIVERY_TIMEOUT,
        ),
        init_timeout=_seconds(
            "wsbridge_init_timeout", pick("wsbridge_init_timeout"), DEFAULT_INIT_TIMEOUT
        ),
        compliance=_boolean("wsbridge_compliance", pick("wsbridge_compliance"), default=False),
    )


def _boolean(name: str, value: object, *, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SettingsError(
        f"{name} = {value!r} is not a boolean; use one of: {', '.join(_TRUE + _FALSE[:-1])}"
    )


def _factory(value: object) -> str:
    if value is None:
        return DEFAULT_FACTORY
    text = str(value).strip()
    return text or DEFAULT_FACTORY


def _report_path(value: object) -> Path:
    path = Path(str(value).strip())
    if path.suffix.lower() not in REPORT_SUFFIXES:
        raise SettingsError(
            f"wsbridge_report = {str(value)!r}: the report must end in "
            f"{' or '.join(REPORT_SUFFIXES)} (JSON data or a self-contained HTML page)"
        )
    return path


def _seconds(name: str, value: object, default: float) -> float:
    if value is None:
        return default
    try:
        seconds = float(str(value).strip())
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise SettingsError(
            f"{name} = {value!r} is not a number of seconds; use a positive number "
            f"such as {default:g}"
        )
    return seconds
