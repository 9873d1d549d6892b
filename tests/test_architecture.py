"""The layering promises: core never imports streamlit, pages hold no model code, only ui.py caches."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_never_imports_streamlit():
    for path in (PROJECT / "core").rglob("*.py"):
        assert not any(n.split(".")[0] == "streamlit" for n in _imports(path)), path


def test_views_hold_no_torch_nn_code_or_training_loop():
    for path in [PROJECT / "app.py", *(PROJECT / "views").glob("*.py")]:
        source = path.read_text()
        assert "torch.nn" not in source and "from torch import nn" not in source, path
        assert ".backward(" not in source and "optimizer.step" not in source, path


def test_only_ui_caches_caches_and_ui_sets_no_state_at_import():
    for path in [PROJECT / "app.py", *(PROJECT / "views").glob("*.py"), *(PROJECT / "core").rglob("*.py"),
                 *(p for p in (PROJECT / "ui").glob("*.py") if p.stem != "caches")]:
        source = path.read_text()
        assert "st.cache_resource" not in source and "st.cache_data" not in source, path
    for path in (PROJECT / "ui").glob("*.py"):  # no import-time side effects beyond definitions
        for node in ast.parse(path.read_text()).body:
            docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            type_imports = isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
            statement = isinstance(node, (ast.Expr, ast.If, ast.For, ast.While, ast.With, ast.Try))
            assert not statement or docstring or type_imports, f"{path.name}:{node.lineno}"


def test_the_navigation_lists_every_view_from_one_table():
    """Views live in a folder Streamlit does not discover: a view missing from ui.pages.PAGES would be
    unreachable, so every file there is in the table, and app.py builds the navigation from it."""
    from ui.pages import PAGES

    assert not (PROJECT / "pages").exists()
    assert sorted(p.path for p in PAGES) == sorted(str(p.relative_to(PROJECT)) for p in (PROJECT / "views").glob("*.py"))
    assert len({p.url_path for p in PAGES}) == len(PAGES) and all(p.title and p.icon and p.blurb for p in PAGES)
    source = (PROJECT / "app.py").read_text()
    assert 'st.navigation([st.Page(home, title="Home"' in source and "pages.existing_pages()" in source


def test_the_home_page_loads_no_torch():
    """The home page draws while Streamlit starts: its metadata comes from the safetensors header
    and its pictures from thumbnail files, so a first visit never waits for torch's import."""
    script = ("import os, sys; os.environ['AE_WARM_UP'] = '0'; from streamlit.testing.v1 import AppTest; at = AppTest.from_file('app.py', default_timeout=60); "
              "at.run(); assert not at.exception, at.exception; "
              "print(sorted(m for m in ('torch', 'core.registry') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


# --- core is a one-way graph (ARCHITECTURE.md): lower layers never import higher ones ----------------

CORE_LAYERS = {
    "data": 0, "models": 0, "registry": 0, "metrics": 0, "inference": 0, "images": 0, "files": 0, "catalogue": 0,
    "latent_view": 0, "flights": 0, "training_cost": 0, "browser_values": 0, "activations": 0,
    "classical": 0,
    "trainer": 1, "checkpoints": 1, "visitors": 1, "timeline": 1,
    "pipeline": 2, "evaluate": 2, "latent": 2, "denoise": 2, "anomaly": 2, "generate": 2, "export": 2,
    "thumbnails": 2,
    "jobs": 3, "ray_jobs": 3, "train": 3,  # train: the command line, `python -m core.train`
}
ENTRY_POINT_LAYER = 3  # `if __name__ == "__main__":` runs as its own module, the command line


def _is_main_guard(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return (isinstance(node, ast.If) and isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == "__name__")


def _core_imports(tree: ast.AST) -> set[str]:
    """core modules a tree imports, anywhere in it (inside functions too)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {n.split(".")[1] for n in names if n.startswith("core.") and n.split(".")[1] in CORE_LAYERS}
    return found


def core_graph() -> dict[str, set[str]]:
    """core module -> the core modules it imports; a module's `__main__` block is a node of its own."""
    graph = {}
    for path in sorted((PROJECT / "core").glob("*.py")):
        if path.stem == "__init__":
            continue
        tree = ast.parse(path.read_text())
        main_blocks = [node for node in tree.body if _is_main_guard(node)]
        tree.body = [node for node in tree.body if not _is_main_guard(node)]
        graph[path.stem] = _core_imports(tree) - {path.stem}
        if main_blocks:
            graph[f"{path.stem}.__main__"] = set().union(*(_core_imports(b) for b in main_blocks))
    return graph


def layer(node: str) -> int:
    return ENTRY_POINT_LAYER if node.endswith(".__main__") else CORE_LAYERS[node]


def test_every_core_module_has_a_layer():
    unplaced = {node for node in core_graph() if not node.endswith(".__main__")} - set(CORE_LAYERS)
    assert not unplaced, f"place {unplaced} in CORE_LAYERS (and ARCHITECTURE.md's map)"


def test_core_lower_layers_never_import_higher_ones():
    for node, imported in core_graph().items():
        for other in imported:
            assert layer(other) <= layer(node), f"core.{node} (layer {layer(node)}) imports core.{other} (layer {layer(other)})"


def assert_no_cycle(graph: dict[str, set[str]]) -> None:
    """Fail naming the first import cycle found in a module graph."""
    done, path = set(), []

    def visit(node):
        if node in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(node):], node]))
        if node in done:
            return
        path.append(node)
        for other in sorted(graph.get(node, ())):
            visit(other)
        path.pop()
        done.add(node)

    for node in graph:
        visit(node)


def test_core_imports_have_no_cycle():
    assert_no_cycle(core_graph())


def test_the_cycle_check_finds_a_circle():
    with pytest.raises(AssertionError, match="ui.a -> ui.b -> ui.a"):
        assert_no_cycle({"ui.a": {"ui.b"}, "ui.b": {"ui.a"}})


def test_the_cycle_check_sees_imports_inside_functions():
    tree = ast.parse("def f():\n    from core import jobs\n")
    assert _core_imports(tree) == {"jobs"}


def test_benchmarks_share_the_server_helpers_not_the_test_fixtures():
    for path in (PROJECT / "bench").glob("*.py"):
        assert not any(n.startswith("tests.e2e") for n in _imports(path)), f"{path}: use tests.app_server"


# --- the whole tree is a one-way graph: app and views on top, then ui, components, core ----------------

TREE_LAYERS = {"core": 0, "components": 1, "ui": 2, "views": 3, "app": 3}


def tree_modules() -> dict[str, Path]:
    """Every module of the app, by dotted name (views by their file's stem)."""
    found = {"app": PROJECT / "app.py"}
    for package in ("core", "components", "ui", "views"):
        for path in (PROJECT / package).rglob("*.py"):
            parts = path.relative_to(PROJECT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def tree_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (inside functions too; not core's `__main__` blocks)."""
    modules = tree_modules()
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        tree.body = [node for node in tree.body if not _is_main_guard(node)]
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
                if not any(n in modules for n in names):  # names from a module, not modules of a package
                    names = [node.module]
            else:
                continue
            for dotted in names:  # the longest project module each name starts with
                while dotted and dotted not in modules:
                    dotted = dotted.rpartition(".")[0]
                if dotted and dotted != name and not name.startswith(dotted + "."):  # not a package's own __init__
                    imported.add(dotted)
        graph[name] = imported
    return graph


def test_no_module_imports_a_higher_group():
    for name, imported in tree_graph().items():
        for other in imported:
            assert TREE_LAYERS[other.split(".")[0]] <= TREE_LAYERS[name.split(".")[0]], f"{name} imports {other}"


def test_the_whole_tree_has_no_import_cycle():
    assert_no_cycle(tree_graph())


def test_the_tree_check_sees_ui_modules():
    graph = tree_graph()
    assert "ui.caches" in graph["views.reconstruction"] and "core.latent" in graph["ui.caches"]
    assert "ui.caches" not in graph["ui.pages"] and not graph["ui"]  # the package imports nothing


def test_the_home_page_imports_nothing_heavy_through_ui():
    """app.py imports ui.pages and ui.startup, which import no core module but its light package."""
    graph = tree_graph()
    for module in ("ui.pages", "ui.startup"):
        assert not {m for m in graph[module] if m.startswith("core.")}, module
