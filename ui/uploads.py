"""What one visitor's uploaded files may hold of the server's memory, and for how long.

Streamlit keeps every uploaded file's bytes in its MemoryUploadedFileManager until the session's
AppSession.shutdown() removes them. A visitor who closes the tab leaves the session parked for a
reconnect (server.disconnectedSessionTTL) and the parked session is later dropped from its
storage without shutdown(): 100 refused 9.9 MB files held 2 GB for 11 minutes after the visitor
left. Streamlit's upload endpoint also takes any number of files into a session.

Two internal methods, wrapped because no public API reaches them, in this one module:
- `Runtime.disconnect_session`: a session that holds uploaded files is marked non-resumable first
  (`Runtime.mark_session_nonresumable`, what st.logout uses), so Streamlit shuts it down, which
  removes its files, instead of parking it: its widget state holds the files' bytes as well, so
  removing them from the manager alone freed nothing. Whatever else happens, a session no longer
  connected has its files removed from the manager. A tab that reconnects after a network drop
  gets a fresh session, as after a server restart: its widgets come back from the browser, its
  uploads are asked for again. Sessions without uploads are parked for a reconnect as before.
- `MemoryUploadedFileManager.add_file`: a file that would take a session past SESSION_UPLOAD_FILES
  files or SESSION_UPLOAD_BYTES, or all sessions past SERVER_UPLOAD_BYTES, is refused with HTTP
  413 (the uploader shows that file as failed); nothing of it is kept.

Installed once, explicitly (`install`, from `ui.startup`), for the Streamlit versions it was read
against; another version raises, so an upgrade is checked by a person rather than silently unbounded.
"""

from __future__ import annotations

import functools
import logging

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager

log = logging.getLogger(__name__)

WRITTEN_FOR = ("1.67.",)  # Streamlit versions whose Runtime and MemoryUploadedFileManager this was read against
# ui.widgets prepares 16 files / 30 MB of a batch and names the rest; room beyond that for files being
# replaced. Bytes are what cost memory; the file count bounds the bookkeeping of many tiny files.
SESSION_UPLOAD_FILES = 64
SESSION_UPLOAD_BYTES = 48 * 2**20
SERVER_UPLOAD_BYTES = 512 * 2**20  # every connected session's files together


def _refusal(status: int, detail: str) -> Exception:
    from starlette.exceptions import HTTPException  # Streamlit 1.67's server; the route turns it into the answer

    return HTTPException(status_code=status, detail=detail)


def _forget_files_on_disconnect(original):
    @functools.wraps(original)
    def disconnect_session(self, session_id: str, *, client=None) -> None:
        if self.is_active_session(session_id) and self.uploaded_file_mgr.file_storage.get(session_id):
            # Its widget state holds the files too (UploadedFile shares their bytes): shut down, not parked.
            self.mark_session_nonresumable(session_id)
        try:
            original(self, session_id, client=client)
        finally:
            if not self.is_active_session(session_id):  # shut down, or parked after all
                self.uploaded_file_mgr.remove_session_files(session_id)
    disconnect_session.bounds_uploads = True
    return disconnect_session


def _bounded_add_file(original):
    @functools.wraps(original)
    def add_file(self, session_id: str, file) -> None:
        with self._lock:
            own = {file_id: rec for file_id, rec in self.file_storage.get(session_id, {}).items()
                   if file_id != file.file_id}  # a file sent again replaces itself
            own_bytes = sum(len(rec.data) for rec in own.values()) + len(file.data)
            replaced = self.file_storage.get(session_id, {}).get(file.file_id)
            server_bytes = self._total_bytes - (len(replaced.data) if replaced else 0) + len(file.data)
        if len(own) + 1 > SESSION_UPLOAD_FILES or own_bytes > SESSION_UPLOAD_BYTES:
            log.info("upload refused: session %s would hold %d files, %d bytes", session_id, len(own) + 1, own_bytes)
            raise _refusal(413, "This session holds too many uploaded files; remove some first.")
        if server_bytes > SERVER_UPLOAD_BYTES:
            log.warning("upload refused: uploads of all sessions would hold %d bytes", server_bytes)
            raise _refusal(503, "The server holds too many uploaded files; try again in a minute.")
        original(self, session_id, file)
    add_file.bounds_uploads = True
    return add_file


def installed() -> bool:
    return all(getattr(method, "bounds_uploads", False) for method in
               (Runtime.disconnect_session, MemoryUploadedFileManager.add_file))


def install() -> None:
    """Bound what sessions' uploads hold and free a session's files when its visitor leaves (idempotent)."""
    if installed():
        return
    if not st.__version__.startswith(WRITTEN_FOR):
        raise RuntimeError(f"ui.uploads was written for Streamlit {WRITTEN_FOR}, not {st.__version__}: read "
                           "streamlit/runtime/runtime.py's disconnect_session and memory_uploaded_file_manager.py, "
                           "and update it.")
    if not getattr(Runtime.disconnect_session, "bounds_uploads", False):
        Runtime.disconnect_session = _forget_files_on_disconnect(Runtime.disconnect_session)
    if not getattr(MemoryUploadedFileManager.add_file, "bounds_uploads", False):
        MemoryUploadedFileManager.add_file = _bounded_add_file(MemoryUploadedFileManager.add_file)
