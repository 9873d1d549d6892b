"""The layering promises: core never imports streamlit, pages hold no model code, only ui.py caches."""

import ast
import subprocess
import sys
from pathlib import Path

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


def test_pages_hold_no_torch_nn_code_or_training_loop():
    for path in [PROJECT / "app.py", *(PROJECT / "pages").glob("*.py")]:
        source = path.read_text()
        assert "torch.nn" not in source and "from torch import nn" not in source, path
        assert ".backward(" not in source and "optimizer.step" not in source, path


def test_only_ui_caches():
    for path in [PROJECT / "app.py", *(PROJECT / "pages").glob("*.py"), *(PROJECT / "core").rglob("*.py")]:
        source = path.read_text()
        assert "st.cache_resource" not in source and "st.cache_data" not in source, path


def test_the_navigation_lists_every_page_file_after_home():
    """Once app.py calls st.navigation, Streamlit stops reading pages/ by itself: a page file
    missing from navigation.PAGES would vanish from the sidebar."""
    from navigation import PAGES

    assert sorted(PAGES) == sorted(str(p.relative_to(PROJECT)) for p in (PROJECT / "pages").glob("*.py"))
    source = (PROJECT / "app.py").read_text()
    assert 'st.navigation([st.Page(home, title="Home"' in source and "existing_pages()" in source


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
    "latent_view": 0, "flights": 0, "training_cost": 0, "browser_values": 0,
    "trainer": 1, "checkpoints": 1, "visitors": 1,
    "pipeline": 2, "evaluate": 2, "latent": 2, "denoise": 2, "anomaly": 2, "generate": 2, "export": 2,
    "thumbnails": 2,
    "jobs": 3, "train": 3,  # train: the command line, `python -m core.train`
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


def test_core_imports_have_no_cycle():
    graph = core_graph()
    done, path = set(), []

    def visit(node):
        if node in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(node):] + [node]))
        if node in done:
            return
        path.append(node)
        for other in sorted(graph.get(node, ())):
            visit(other)
        path.pop()
        done.add(node)

    for node in graph:
        visit(node)


def test_the_cycle_check_sees_imports_inside_functions():
    tree = ast.parse("def f():\n    from core import jobs\n")
    assert _core_imports(tree) == {"jobs"}


def test_benchmarks_share_the_server_helpers_not_the_test_fixtures():
    for path in (PROJECT / "bench").glob("*.py"):
        assert not any(n.startswith("tests.e2e") for n in _imports(path)), f"{path}: use tests.app_server"
