"""Every module declares ``__all__``; packages re-export what they declare; the core stays pure."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import pytest_wsbridge
import reference_impl

PACKAGES = [reference_impl, pytest_wsbridge]


def all_modules() -> list[str]:
    names: list[str] = []
    for package in PACKAGES:
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            if info.name.rsplit(".", 1)[-1] != "__main__":
                names.append(info.name)
    return sorted(names)


MODULES = all_modules()


def test_both_packages_are_walked() -> None:
    for name in (
        "reference_impl.ids",
        "reference_impl.bridge",
        "reference_impl.backends.memory",
        "pytest_wsbridge.fakes",
        "pytest_wsbridge.factory",
    ):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_module_declares_all_and_a_docstring(name: str) -> None:
    module = importlib.import_module(name)
    assert (module.__doc__ or "").strip(), f"{name} has no docstring saying its one job"
    declared = getattr(module, "__all__", None)
    assert isinstance(declared, (list, tuple)), f"{name} has no __all__"
    assert len(set(declared)) == len(declared), f"{name}.__all__ lists a name twice"
    missing = [attr for attr in declared if not hasattr(module, attr)]
    assert not missing, f"{name}.__all__ names {missing}, which {name} does not define"


def is_package(module: ModuleType) -> bool:
    return hasattr(module, "__path__")


PACKAGE_NAMES = [name for name in MODULES if is_package(importlib.import_module(name))]


@pytest.mark.parametrize("name", PACKAGE_NAMES)
def test_package_re_exports_the_defining_objects(name: str) -> None:
    package = importlib.import_module(name)
    for attr in package.__all__:
        value = getattr(package, attr)
        home = getattr(value, "__module__", None)
        if home is None or not home.startswith(f"{name}.") or attr.startswith("__"):
            continue
        defining = importlib.import_module(home)
        assert getattr(defining, attr, None) is value, f"{name}.{attr} is not {home}.{attr}"
        assert attr in getattr(defining, "__all__", ()), f"{home}.__all__ lacks {attr}"


CONTRACT = [
    "AgentWebSocketBridge",
    "ConnectionManager",
    "OrchestratorInitError",
    "ReferenceOrchestrator",
    "ResyncRequired",
    "ThreadResolutionError",
    "WebSocketBridgeAdapter",
    "create_bridge",
    "generate_run_id",
    "thread_id_from_run_id",
]


PLUGIN_SURFACE = [
    "AguiError",  # what a user of the AG-UI readers catches
    "FakeConnectionManager",
    "HangingOrchestrator",
    "UnhealthyOrchestrator",
    "SessionReport",
    "Violation",
    "WsBridgePluginError",
]


@pytest.mark.parametrize(
    ("package", "name"),
    [(reference_impl, n) for n in CONTRACT] + [(pytest_wsbridge, n) for n in PLUGIN_SURFACE],
)
def test_contract_names_are_exported_at_the_top(package: ModuleType, name: str) -> None:
    assert name in package.__all__
    assert hasattr(package, name)


def test_every_plugin_exception_shares_the_base() -> None:
    found = []
    for name in MODULES:
        if not name.startswith("pytest_wsbridge"):
            continue
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__.startswith("pytest_wsbridge")
            ):
                found.append(value)
                assert issubclass(value, pytest_wsbridge.WsBridgePluginError), value
                assert value.__module__.endswith(".exceptions"), value
    assert pytest_wsbridge.FactoryError in found


def test_version() -> None:
    assert reference_impl.__version__ == pytest_wsbridge.__version__


ROOT = Path(reference_impl.__file__).parent
PURE = [
    "ids.py",
    "registry.py",
    "eventlog.py",
    "lifecycle.py",
    "events.py",
    "exceptions.py",
    "dialects.py",
    "agui/__init__.py",
    "agui/patch.py",
    "agui/rules.py",
    "agui/shapes.py",
    "agui/sse.py",
    "agui/validator.py",
]
EDGES = {"asyncio", "websockets", "redis", "socket", "pytest", "pytest_wsbridge", "threading"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("filename", PURE)
def test_pure_core_imports_no_io(filename: str) -> None:
    assert not imported_roots(ROOT / filename) & EDGES


def test_reference_impl_never_imports_the_plugin() -> None:
    for path in ROOT.rglob("*.py"):
        assert "pytest_wsbridge" not in imported_roots(path), path


def test_every_reference_exception_is_in_the_one_tree() -> None:
    """Each exception class of :mod:`reference_impl` is defined in ``exceptions.py`` and derives
    from ``WsBridgeError``; modules that raise one may re-export it, nothing more."""
    from reference_impl import exceptions

    seen = 0
    for name in MODULES:
        if not name.startswith("reference_impl"):
            continue
        for value in vars(importlib.import_module(name)).values():
            if isinstance(value, type) and issubclass(value, BaseException):
                home = value.__module__
                if home.startswith("reference_impl"):
                    seen += 1
                    assert home == "reference_impl.exceptions", f"{value.__name__} in {home}"
                    assert issubclass(value, exceptions.WsBridgeError), value
                    assert value.__name__ in exceptions.__all__
    assert seen >= len(exceptions.__all__)


def test_moved_exceptions_stay_importable_where_they_were() -> None:
    from reference_impl import client, exceptions, subscription

    assert subscription.GateOverflow is exceptions.GateOverflow
    assert client.ConnectionLost is exceptions.ConnectionLost
    assert issubclass(exceptions.ConnectionLost, ConnectionError)
    assert exceptions.ConnectionLost("gone", 1008).close_code == 1008


def _module_imports(name: str) -> set[str]:
    """The modules of both packages that ``name`` imports when it is imported (module level,
    ``if TYPE_CHECKING:`` blocks and imports inside functions left out)."""
    module = importlib.import_module(name)
    path = Path(module.__file__ or "")
    base = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, (ast.If, ast.Try)):
                visit(node.body)
                visit(node.orelse)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = base.split(".")[: len(base.split(".")) - (node.level - 1)]
                    target = ".".join(parts) + (f".{node.module}" if node.module else "")
                else:
                    target = node.module or ""
                for alias in node.names:  # a submodule, else a name the module defines
                    submodule = f"{target}.{alias.name}"
                    found.add(submodule if submodule in MODULES else target)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return {m for m in found if m in MODULES and m != name}


def test_no_import_cycle_in_either_package() -> None:
    graph = {name: _module_imports(name) for name in MODULES}
    done: set[str] = set()

    def walk(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for imported in sorted(graph[name]):
            walk(imported, [*path, name])
        done.add(name)

    for name in MODULES:
        walk(name, [])
