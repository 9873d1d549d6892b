"""Custom Streamlit components: plain JavaScript and CSS served with the page, no build step."""

from pathlib import Path

HERE = Path(__file__).resolve().parent


def script(*names: str) -> str:
    """The JavaScript of a component: files of this folder joined in order, e.g. the shared
    "bundles.js" and then the component's own; a module's shared code without a bundler."""
    return "\n".join((HERE / name).read_text() for name in names)
