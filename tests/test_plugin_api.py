"""The plugin API's boundary: plugins import only ``oneapi.plugin``, the core refuses a plugin
built for another major version, and the core has no import cycles."""

from __future__ import annotations

import ast
import importlib
import logging
import subprocess
import sys
from pathlib import Path

import pytest

import oneapi
from oneapi import plugin
from oneapi.plugins import get_plugin_manager
from oneapi.registry import StartupError

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "oneapi"
SITES = Path(__file__).parent / "plugins"


def _plugin_sources() -> list[Path]:
    """Every module of every plugin this repository ships or tests with, and of the examples."""
    roots = [*ROOT.glob("plugins/*/oneapi_*"), *ROOT.glob("examples/*/oneapi_*"),
             SITES / "site" / "oneapi_echo"]
    return sorted(p for root in roots for p in root.rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in a file, wherever it is (functions too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_plugins_import_nothing_from_the_core_but_the_plugin_api() -> None:
    sources = _plugin_sources()
    assert len(sources) > 30  # the scan finds the plugins
    offences = [f"{path.relative_to(ROOT)}:{line}: {module}"
                for path in sources for line, module in _imports(path)
                if (module == "oneapi" or module.startswith("oneapi.")) and module != "oneapi.plugin"]
    assert offences == [], "plugins must import only oneapi.plugin:\n" + "\n".join(offences)


def test_every_name_of_the_plugin_api_resolves_and_is_reachable_lazily_from_oneapi() -> None:
    for name in plugin.__all__:
        assert getattr(plugin, name) is getattr(oneapi, name), name
    assert plugin.PLUGIN_API_VERSION == int(oneapi.__version__.split(".")[0])
    with pytest.raises(AttributeError):
        oneapi.no_such_name  # noqa: B018


def test_importing_the_package_or_the_hookspecs_loads_no_framework() -> None:
    code = ("import sys, oneapi, oneapi.hookspecs; "
            "print(sorted(m for m in ('quart', 'tortoise', 'redis', 'httpx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture
def future_site(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SITES / "future_site"))
    importlib.invalidate_caches()


def test_a_plugin_built_for_another_major_version_is_refused_with_the_way_out(future_site: None) -> None:
    with pytest.raises(StartupError) as refused:
        get_plugin_manager(allowed={"future"})
    message = str(refused.value)
    assert "plugin future (oneapi-future 2.0.0) requires oneapi<3,>=2.0" in message
    assert f"this is oneapi {oneapi.__version__} (plugin API 1)" in message
    assert "ONEAPI_DISABLED_PLUGINS=future" in message
    assert "oneapi_future" not in sys.modules  # refused before its code ran


def test_a_refused_plugin_can_be_left_out(future_site: None) -> None:
    pm, infos = get_plugin_manager(disabled={"future"})
    assert "future" not in infos and pm.get_plugin("future") is None


def test_the_shipped_plugins_declare_the_plugin_api_they_were_built_for(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="oneapi.plugins"):
        _, infos = get_plugin_manager()
    assert {"openai", "anthropic", "gemini", "azure", "epay", "midjourney"} <= set(infos)
    assert "does not say which oneapi" not in caplog.text


# --- import cycles ---


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _core_graph() -> dict[str, set[str]]:
    """module -> core modules it imports, at import time or inside functions (not under
    TYPE_CHECKING). ``from . import x`` names the submodule, not the package's own body."""
    modules = {_module_name(p): p for p in CORE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for node in ast.walk(tree)
                       if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                       for n in ast.walk(node)}
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" for a in node.names] + ([base] if node.module else [])
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != module and not (target == "oneapi" and module != "oneapi"):
                    graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_core_has_no_import_cycles_not_even_inside_functions() -> None:
    graph = _core_graph()
    assert "oneapi.relay.controller" in graph["oneapi.relay.routes"]  # the scan sees imports
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
