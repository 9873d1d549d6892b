"""Which tab a run belongs to, and whether that tab is still there."""

from __future__ import annotations

from collections.abc import Callable


def session_id() -> str | None:
    """This browser tab's Streamlit session id (None outside a script run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def session_presence(session: str | None) -> Callable[[], bool]:
    """A check, callable from any thread, that says whether a session's tab is still connected
    (always True where no server runs, as under AppTest)."""
    from streamlit import runtime

    def present() -> bool:
        return session is None or not runtime.exists() or runtime.get_instance().is_active_session(session)
    return present

