"""Who a visitor is (a browser, not a tab), which tab a run belongs to, and whether that tab is still there.

A visitor is one browser: every tab of it is the same visitor, so "one run per visitor" and the
per-visitor quotas cannot be multiplied by opening tabs. The identity is Streamlit's own XSRF cookie,
`_streamlit_xsrf`: the server sets it on the first `/_stcore/health` answer, which the page fetches
before it opens its websocket, so it arrives with every session's first run (`st.context.cookies`).
It holds 16 random bytes that stay the same for the browser's cookie jar (the mask around them
changes with every answer), and is a session cookie: it lasts until the browser quits. Only a hash
of the bytes is used, never the bytes (they guard against cross-site requests).

Chosen over the others a page can reach: an id in localStorage needs a component, so it arrives one
run late and is just as forgeable; an id in the URL travels with every shared link; an IP address is
shared by a whole classroom behind one router.

Its limits: it names a browser profile, not a person (a private window or another browser is another
visitor, and so is the same browser after it quits or clears its cookies, which then can no longer
cancel or save its earlier runs). It is no authentication: a client that is not a browser sends
whatever cookie it likes, so a script can pose as many visitors; the server-wide bounds (queue length,
a run's minutes, the store's size) still hold then. Clients that send no such cookie (a bare
websocket, or a server with `server.enableXsrfProtection` off, which sets none) count as one visitor
per IP address, all local ones as one. Under AppTest there is no browser: the visitor is
`st.session_state[VISITOR_KEY]`, by default this session's own id, so a test can give two sessions
one visitor (two tabs) or two (two browsers).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

XSRF_COOKIE = "_streamlit_xsrf"
VISITOR_KEY = "visitor_id"  # session_state key naming the visitor where no browser sends a cookie (tests)


def session_id() -> str | None:
    """This browser tab's Streamlit session id (None outside a script run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def xsrf_token(cookie: str | None) -> bytes | None:
    """The random bytes of a Streamlit XSRF cookie, "2|<mask>|<masked token>|<time>" in hex (the
    masked token is the token XOR the 4-byte mask repeated); None when the cookie is not one."""
    parts = (cookie or "").strip("\"'").split("|")
    if len(parts) != 4 or parts[0] != "2":
        return None
    try:
        mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except ValueError:
        return None
    if len(mask) != 4 or len(masked) < 16:
        return None
    return bytes(b ^ mask[i % 4] for i, b in enumerate(masked))


def visitor_id() -> str:
    """This visitor's id: their browser's (every tab the same), else their address's; see the module."""
    import streamlit as st

    if not st.context.headers:  # no browser behind this session: AppTest
        return st.session_state.setdefault(VISITOR_KEY, f"session-{session_id()}")
    token = xsrf_token(st.context.cookies.get(XSRF_COOKIE))
    if token is not None:
        return "browser-" + hashlib.sha256(token).hexdigest()[:20]
    return f"address-{st.context.ip_address or 'local'}"


def session_presence(session: str | None) -> Callable[[], bool]:
    """A check, callable from any thread, that says whether a session's tab is still connected
    (always True where no server runs, as under AppTest)."""
    from streamlit import runtime

    def present() -> bool:
        return session is None or not runtime.exists() or runtime.get_instance().is_active_session(session)
    return present
