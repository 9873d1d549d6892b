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
    script = ("import sys; from streamlit.testing.v1 import AppTest; at = AppTest.from_file('app.py', default_timeout=60); "
              "at.run(); assert not at.exception, at.exception; "
              "print(sorted(m for m in ('torch', 'core.registry') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
