"""Dependencies point one way (docs/architecture.md), checked on the source and at run time."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "openmyna"

#: Each package and the openmyna packages it may import (besides itself and the bottom).
BOTTOM = {
    "errors",
    "clock",
    "config",
    "problems",
    "operator",
    "server",
    "guard",
    "store",
    "bus",
    "law",
}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    #: The law's date rules (age, birthdays, validity periods): no domain, only its errors.
    "law": {"errors"},
    "clock": {"errors"},
    "config": set(),
    "problems": {"errors"},
    "operator": {"errors", "config"},
    "server": {"errors", "config", "problems"},
    "guard": {"errors", "config", "operator"},
    "store": {"errors", "config"},
    "bus": {"errors", "clock", "config", "store"},
    "numbers": BOTTOM,
    "registry": BOTTOM | {"numbers"},
    "pki": BOTTOM | {"numbers", "registry"},
    "card": BOTTOM | {"numbers", "registry", "pki"},
    "network": BOTTOM | {"numbers", "registry", "pki"},
    "portal": BOTTOM | {"numbers", "registry", "pki", "card", "network"},
    "ekyc": BOTTOM | {"pki", "card"},
    #: J-LIS's latest-4-items service: the portal's card requests and webhooks, reused.
    "latest_items": BOTTOM | {"numbers", "registry", "pki", "card", "network", "portal"},
}
#: Entry points: a domain's CLI asks the builder for its parts.
ENTRY_MODULES = ("cli.py", "number_cli.py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "openmyna":
                found |= {f"openmyna.{a.name}" for a in node.names}
    return {name.split(".")[1] for name in found if name.startswith("openmyna.")}


def test_each_package_imports_only_the_layers_below() -> None:
    wrong = []
    for package, allowed in ALLOWED.items():
        target = SRC / package
        files = sorted(target.rglob("*.py")) if target.is_dir() else [SRC / f"{package}.py"]
        for path in files:
            if path.name in ENTRY_MODULES or "migrations" in path.parts:
                continue
            for imported in _imports(path) - {package} - allowed:
                wrong.append(f"{path.relative_to(SRC)} imports openmyna.{imported}")
    assert wrong == []


def test_no_domain_imports_the_web_app_the_platform_or_the_builder() -> None:
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        top = path.relative_to(SRC).parts[0]
        if top in {"web.py", "platform.py", "builder.py", "cli.py", "demo"}:
            continue
        if path.name in ENTRY_MODULES:
            continue  # a domain's CLI asks the builder for its parts
        bad = _imports(path) & {"web", "platform", "builder", "demo"}
        wrong += [f"{path.relative_to(SRC)} imports openmyna.{b}" for b in sorted(bad)]
    assert wrong == []


def test_the_hub_process_loads_no_card_demo_web_or_platform(tmp_path: Path) -> None:
    """``openmyna network hub`` up to serving: which openmyna modules did it import?"""
    probe = (
        "import sys, uvicorn\n"
        "def run(self, *a, **k):\n"
        "    print('\\n'.join(sorted(m for m in sys.modules if m.startswith('openmyna'))))\n"
        "uvicorn.Server.run = run\n"
        "sys.argv = ['openmyna', 'network', 'hub', '--port', '0']\n"
        "from openmyna.cli import main\n"
        "main()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENMYNA_")}
    env["OPENMYNA_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.split()
    assert "openmyna.network.hub" in loaded
    assert "openmyna.network.service" in loaded
    for part in ("openmyna.card", "openmyna.demo", "openmyna.web", "openmyna.platform"):
        assert [m for m in loaded if m == part or m.startswith(part + ".")] == [], part


def _top_imports(body: list[ast.stmt], modules: set[str], found: set[str]) -> None:
    """Add to ``found`` what ``body`` imports when run (not for type checking)."""
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{a.name}" for a in node.names]
            subs = [s for s in subs if s in modules]
            found.update(subs)
            if len(subs) < len(node.names):
                found.add(node.module)
        elif isinstance(node, ast.If | ast.Try):
            _top_imports(node.body, modules, found)
            _top_imports(node.orelse, modules, found)
            for handler in getattr(node, "handlers", []):
                _top_imports(handler.body, modules, found)


def _module_graph() -> dict[str, set[str]]:
    """Module -> the openmyna modules it imports when it is imported (not lazily, not for
    type checking); ``from pkg import submodule`` counts as the submodule only."""
    paths: dict[str, Path] = {}
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        paths[name.removesuffix(".__init__")] = path
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        found: set[str] = set()
        _top_imports(ast.parse(path.read_text(encoding="utf-8")).body, set(paths), found)
        graph[name] = {m for m in found if m in paths and m != name}
    return graph


def test_no_import_cycle_among_modules() -> None:
    graph = _module_graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    assert cycles == []


def test_the_card_engine_is_iso_7816_only() -> None:
    """The engine knows commands and files, nothing of the applets or of issuance."""
    imported = _module_graph()["openmyna.card.engine"]
    assert imported <= {"openmyna.card.apdu", "openmyna.card.files", "openmyna.card.tlv"}
