"""The layering promises: core never imports streamlit, pages hold no model code, only ui.py caches."""

import ast
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


def test_no_st_navigation():
    for path in [PROJECT / "app.py", PROJECT / "ui.py", *(PROJECT / "pages").glob("*.py")]:
        assert "st.navigation" not in path.read_text(), path
