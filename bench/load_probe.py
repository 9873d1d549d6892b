"""Many people on the app at once, without a browser: Streamlit's websocket protocol, checked.

    python -m bench.load_probe                          # 10, 30 and 100 sessions
    python -m bench.load_probe --levels 3 --pages Reconstruction --think 0 0
    python -m bench.load_probe --json                   # the figures as JSON (bench/run_all.py)
    python -m bench.load_probe --levels 1 30 100 --settle 30   # and the server's memory after each level
    python -m bench.load_probe --hostile                # browsing, training and hostile visitors at once

Starts the app on a free 127.0.0.1 port (as the browser tests do) and opens N sessions on
`/_stcore/stream`, each sending what Streamlit's frontend sends: `rerun_script` BackMsgs with a
page's script hash, query string and widget states. Each simulated visitor opens the home page,
Reconstruction (then moves its "How many digits" slider), one of the other pages (taken in
turn), Denoising, its Upload tab, and uploads a digit (PUT to `/_stcore/upload_file/...`, then
the uploader's widget state), pausing 2-8 s between steps like a person looking at the page
(--think). A level's sessions arrive over 10 s (--ramp); a warm-up visitor first opens every page
once, so the levels measure a warm server (its first runs are printed apart).

With --hostile, 30 visitors browse while five others press Train at the same moment, one trains
vae briefly and tries to save it as `vae` (spelt four ways), and one saves a finished run and
then opens its link in 20 new tabs; the report says whether the queue drained in the order the
runs arrived, whether the shipped files' SHA-256 stayed the same, and how many files were saved.

Every run is checked: the page's title and its main elements arrive, no exception element and
no error box is in the delta stream, the slider's value shows up in the page, the upload comes
back denoised as a PNG. A run's time is from sending the request to its `script_finished`.
Everything is bounded: a run not finished after --run-timeout seconds is an error (a person
would have given up) and ends that visitor, a level ends after --deadline, and the server only
ever listens on the loopback interface.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import io
import ipaddress
import json
import os
import random
import re
import shutil
import statistics
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileUploaderState, FileURLs, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

LEVELS = (10, 30, 100)
FINISHED = ForwardMsg.FINISHED_SUCCESSFULLY
RERUNNING = ForwardMsg.FINISHED_EARLY_FOR_RERUN  # st.rerun(): another run of the same request follows
XSRF_COOKIE = "_streamlit_xsrf"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_MESSAGE_BYTES = 64 * 2**20  # the latent map's sprite sheets are 1.7 and 1.3 MB, a plotly map a few MB


def run_sync(coroutine):
    """asyncio.run, also from a thread whose event loop is already running (Playwright's sync
    API keeps one running for a whole test session): then in a worker thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass(frozen=True)
class PageCheck:
    """What a page must show: its title (an h1 heading) and element types that must appear."""

    title: str
    elements: tuple[str, ...]


# Page name as Streamlit lists it in new_session.app_pages ("" is the home page).
PAGES = {
    "": PageCheck("Autoencoder Lab", ("page_link", "markdown")),
    "Reconstruction": PageCheck("Reconstruction", ("imgs",)),  # its charts are in tabs drawn when picked
    "Denoising": PageCheck("Denoising", ("imgs", "plotly_chart", "metric")),
    "Latent space": PageCheck("Latent space", ("bidi_component", "metric")),  # the map drawn in the browser
    "Generate": PageCheck("Generate", ("plotly_chart",)),
    "Anomaly": PageCheck("Anomaly detection", ("plotly_chart",)),
    "Train": PageCheck("Train a model", ("selectbox", "button")),
}
OTHER_PAGES = ("Generate", "Latent space", "Anomaly", "Train")  # one of these per visitor, in turn


class ProbeError(Exception):
    """A response that is wrong, late or missing; the message says which and why."""


def require_loopback(url: str) -> str:
    """Return the URL if its host is a loopback address; the probe never talks to anything else."""
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"{url!r} is not a loopback address: the load probe only runs against 127.0.0.1.")
    return url


@dataclass
class Run:
    """One script run as the browser would see it: what was asked, how long it took, what arrived."""

    page: str
    action: str
    seconds: float
    elements: list = field(default_factory=list)   # Element protos, in arrival order
    blocks: list = field(default_factory=list)     # Block protos (tabs, columns, containers)

    def of(self, kind: str) -> list:
        """The element protos of one type ("imgs", "markdown", ...), e.g. `run.of("heading")`."""
        return [getattr(e, kind) for e in self.elements if e.WhichOneof("type") == kind]

    def widget(self, key: str):
        """The proto of the widget with user key `key` (its id ends in "-key"), or None."""
        for element in self.elements:
            proto = getattr(element, element.WhichOneof("type"))
            if getattr(proto, "id", "").endswith(f"-{key}"):
                return proto
        for block in self.blocks:
            if block.WhichOneof("type") == "tab_container" and block.tab_container.id.endswith(f"-{key}"):
                return block.tab_container
        return None

    def check(self, page: PageCheck) -> None:
        """Raise ProbeError unless the page rendered its title and elements without an exception or error."""
        where = f"{self.page or 'home'} ({self.action})"
        for exc in self.of("exception"):
            raise ProbeError(f"{where}: exception {exc.type}: {exc.message[:200]}")
        for alert in self.of("alert"):
            if alert.format == Alert.ERROR:
                raise ProbeError(f"{where}: error box: {alert.body[:200]}")
        titles = [h.body for h in self.of("heading") if h.tag == "h1"]
        if page.title not in titles:
            raise ProbeError(f"{where}: title {page.title!r} missing (h1 headings: {titles})")
        seen = {e.WhichOneof("type") for e in self.elements}
        missing = [kind for kind in page.elements if kind not in seen]
        if missing:
            raise ProbeError(f"{where}: no {', '.join(missing)} element")


class Session:
    """One browser tab's conversation with the server, over one websocket."""

    def __init__(self, base_url: str, run_timeout: float, browser: str = ""):
        """browser: another Session's `xsrf` cookie, to be a second tab of that browser (one visitor)."""
        self.base_url = require_loopback(base_url).rstrip("/")
        self.run_timeout = run_timeout
        self.session_id = ""
        self.page_hashes: dict[str, str] = {}      # page name -> page_script_hash
        self.page = ""
        self.query_string = ""
        self.widgets: dict[str, WidgetState] = {}  # what the frontend resends on every rerun
        self.xsrf = browser
        self._ws = None

    async def __aenter__(self) -> Session:
        # A browser first loads the page, which sets the XSRF cookie that uploads must echo, and sends
        # it with the websocket's handshake too: the server tells visitors (browsers) apart by it.
        self.xsrf = self.xsrf or await asyncio.to_thread(self._fetch_xsrf_cookie)
        ws_url = self.base_url.replace("http", "ws", 1) + "/_stcore/stream"
        self._ws = await websockets.connect(ws_url, subprotocols=["streamlit"], max_size=MAX_MESSAGE_BYTES,
                                            ping_interval=None, open_timeout=self.run_timeout,
                                            additional_headers={"Cookie": f"{XSRF_COOKIE}={self.xsrf}"})
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self._ws.close()

    def _fetch_xsrf_cookie(self) -> str:
        with urllib.request.urlopen(f"{self.base_url}/_stcore/health", timeout=self.run_timeout) as response:
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, value = header.split(";")[0].partition("=")
                if name.strip() == XSRF_COOKIE:
                    return value
        raise ProbeError("the server set no XSRF cookie")

    async def _receive(self, deadline: float, waiting_for: str) -> ForwardMsg:
        """The next message from the server; ProbeError when none comes before `deadline` (perf_counter)."""
        try:
            data = await asyncio.wait_for(self._ws.recv(), max(0.0, deadline - time.perf_counter()))
        except TimeoutError:
            raise ProbeError(f"{waiting_for}: not finished within {self.run_timeout:g} s") from None
        message = ForwardMsg()
        message.ParseFromString(data)
        return message

    async def _send(self, message: BackMsg) -> None:
        await self._ws.send(message.SerializeToString())

    async def rerun(self, action: str) -> Run:
        """Ask for a run of the current page with the current widget states; wait for it to finish."""
        message = BackMsg()
        state = message.rerun_script
        state.page_script_hash = self.page_hashes.get(self.page, "")
        state.page_name = "" if state.page_script_hash else self.page
        state.query_string = self.query_string
        state.widget_states.widgets.extend(self.widgets.values())
        state.context_info.timezone = "UTC"
        state.context_info.locale = "en-US"
        started = time.perf_counter()
        await self._send(message)
        run = Run(self.page, action, 0.0)
        while True:
            forward = await self._receive(started + self.run_timeout, f"{self.page or 'home'} ({action})")
            kind = forward.WhichOneof("type")
            if kind == "new_session":
                self._learn(forward.new_session)
            elif kind == "page_info_changed":
                self.query_string = forward.page_info_changed.query_string
            elif kind == "navigation":
                self._learn_pages(forward.navigation.app_pages)
            elif kind == "delta":
                delta = forward.delta
                if delta.WhichOneof("type") == "new_element":
                    run.elements.append(delta.new_element)
                elif delta.WhichOneof("type") == "new_transient":  # spinners and the like
                    run.elements.extend(delta.new_transient.elements)
                elif delta.WhichOneof("type") == "add_block":
                    run.blocks.append(delta.add_block)
            elif kind == "script_finished":
                if forward.script_finished == FINISHED:
                    run.seconds = time.perf_counter() - started
                    return run
                if forward.script_finished != RERUNNING:
                    raise ProbeError(f"{self.page or 'home'} ({action}): script finished with status "
                                     f"{forward.script_finished} (compile error)")

    def _learn(self, new_session) -> None:
        self.session_id = new_session.initialize.session_id or self.session_id
        self.page_hashes[""] = new_session.main_script_hash
        self._learn_pages(new_session.app_pages)

    def _learn_pages(self, app_pages) -> None:
        self.page_hashes.update({page.page_name: page.page_script_hash for page in app_pages})

    async def open(self, page: str, query_string: str = "", check: PageCheck | None = None) -> Run:
        """Go to a page as a click on its link does (its widgets start fresh) and check what it shows.

        check: what the page must show; default its entry in PAGES.
        """
        if page and self.page_hashes and page not in self.page_hashes:
            raise ProbeError(f"the app has no page {page!r} (it has {sorted(self.page_hashes)})")
        self.page, self.query_string, self.widgets = page, query_string, {}
        run = await self.rerun("open")
        run.check(check or PAGES[page])
        return run

    async def set_widget(self, run: Run, key: str, action: str, **value) -> Run:
        """Change the widget with user key `key` (found in `run`) and rerun, as a browser does on release.

        value: one WidgetState field, e.g. double_array_value=[5.0] for a slider, string_value="Upload" for tabs.
        """
        proto = run.widget(key)
        if proto is None:
            raise ProbeError(f"{self.page}: no widget with key {key!r}")
        state = WidgetState(id=proto.id)
        for name, content in value.items():
            target = getattr(state, name)
            if isinstance(content, list):   # double_array_value and friends wrap a repeated `data`
                target.data.extend(content)
            elif hasattr(target, "CopyFrom"):
                target.CopyFrom(content)
            else:
                setattr(state, name, content)
        self.widgets[proto.id] = state
        return await self.rerun(action)

    async def upload(self, run: Run, key: str, name: str, data: bytes, mime: str = "image/png") -> tuple[Run, float]:
        """Upload one file into the file uploader `key`, as the frontend does: ask for URLs, PUT, rerun.

        Returns the run and the seconds the HTTP upload took.
        """
        request = BackMsg()
        request.file_urls_request.request_id = uuid.uuid4().hex
        request.file_urls_request.file_names.append(name)
        request.file_urls_request.session_id = self.session_id
        await self._send(request)
        asked = time.perf_counter()
        while True:
            forward = await self._receive(asked + self.run_timeout, f"{self.page} (upload URL)")
            if forward.WhichOneof("type") == "file_urls_response" and \
                    forward.file_urls_response.response_id == request.file_urls_request.request_id:
                break
        response = forward.file_urls_response
        if response.error_msg or not response.file_urls:
            raise ProbeError(f"no upload URL: {response.error_msg or 'empty response'}")
        urls = response.file_urls[0]
        started = time.perf_counter()
        await asyncio.to_thread(self._put, urls.upload_url, name, data, mime)
        put_seconds = time.perf_counter() - started
        info = UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id,
                                file_urls=FileURLs(file_id=urls.file_id, upload_url=urls.upload_url,
                                                   delete_url=urls.delete_url))
        state_run = await self.set_widget(run, key, "upload",
                                          file_uploader_state_value=FileUploaderState(uploaded_file_info=[info]))
        return state_run, put_seconds

    def _put(self, path: str, name: str, data: bytes, mime: str) -> None:
        """PUT one file as multipart form data, as the frontend does; ProbeError unless the server took it."""
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n"
                f"Content-Type: {mime}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        address = urllib.parse.urlsplit(self.base_url)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=self.run_timeout)
        try:
            try:
                connection.request("PUT", path, body=body, headers={
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                    "X-Xsrftoken": self.xsrf, "Cookie": f"{XSRF_COOKIE}={self.xsrf}"})
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered before taking the whole body (too large): its answer says so
            status = connection.getresponse().status
        finally:
            connection.close()
        if status != 204:
            raise ProbeError(f"upload refused: HTTP {status}")

    def image_bytes(self, url: str) -> bytes:
        """The file behind an image's URL: inline (a data: URL) or served by the app (/media/...)."""
        if url.startswith("data:"):
            return base64.b64decode(url.partition(",")[2])
        with urllib.request.urlopen(urllib.parse.urljoin(self.base_url, url), timeout=self.run_timeout) as reply:
            return reply.read()


# --- what one visitor does -------------------------------------------------------------------

def digit_png(number: int) -> bytes:
    """A test digit drawn dark on light paper and enlarged, as someone would photograph or scan it."""
    from PIL import Image

    from core import data

    digits = data.load("mnist", "test")
    page = Image.fromarray(255 - digits.images[number % len(digits)]).resize((200, 160))
    buffer = io.BytesIO()
    page.save(buffer, "PNG")
    return buffer.getvalue()


def check_slider_took(run: Run, count: int) -> None:
    """The Reconstruction page lists the test indices it shows: as many as the slider says."""
    labels = [m.body for m in run.of("markdown") if m.body.startswith("**Originals (test digits")]
    if not labels:
        raise ProbeError("Reconstruction (slider): the originals row is missing")
    shown = len(re.findall(r"\d+", labels[0]))
    if shown != count:
        raise ProbeError(f"Reconstruction (slider): {shown} digits shown after moving the slider to {count}")


def check_upload_came_back(session: Session, run: Run, name: str) -> None:
    """The upload's result box names the file and holds a denoised digit that is served as a PNG."""
    if not any(m.body == f"**{name}**" for m in run.of("markdown")):
        raise ProbeError(f"Denoising (upload): no result for {name}")
    denoised = [img for images in run.of("imgs") for img in images.imgs if img.caption.startswith("denoised by")]
    if not denoised:
        raise ProbeError("Denoising (upload): no denoised digit")
    if not session.image_bytes(denoised[0].url).startswith(PNG_SIGNATURE):
        raise ProbeError("Denoising (upload): the denoised digit is not served as a PNG")
    if not run.of("download_button"):
        raise ProbeError("Denoising (upload): no download button")


@dataclass
class Visitor:
    """What one simulated person does, and the pauses between their steps."""

    number: int
    pages: tuple[str, ...]          # the pages this probe may visit
    think: tuple[float, float]      # seconds of reading between steps, uniform in this range
    upload: bytes | None = None     # the digit image to upload on Denoising
    every_page: bool = False        # open all the other pages, not just one (the warm-up does)

    async def pause(self, rng: random.Random) -> None:
        low, high = self.think
        if high > 0:
            await asyncio.sleep(rng.uniform(low, high))

    async def visit(self, session: Session, runs: list[Run]) -> None:
        """Home, Reconstruction + slider, another page, Denoising + Upload tab + upload; runs appended as they finish."""
        rng = random.Random(self.number)
        runs.append(await session.open(""))
        if "Reconstruction" in self.pages:
            await self.pause(rng)
            opened = await session.open("Reconstruction")
            runs.append(opened)
            count = 4 + (self.number + 3) % 13  # the slider's range is 4 to 16; 10 is its default
            await self.pause(rng)
            moved = await session.set_widget(opened, "rec_count", "slider", double_array_value=[float(count)])
            moved.check(PAGES["Reconstruction"])
            check_slider_took(moved, count)
            runs.append(moved)
        others = [p for p in OTHER_PAGES if p in self.pages]
        if others and not self.every_page:
            others = [others[self.number % len(others)]]
        for page in others:
            await self.pause(rng)
            runs.append(await session.open(page))
        if "Denoising" in self.pages:
            await self.pause(rng)
            opened = await session.open("Denoising")
            runs.append(opened)
            await self.pause(rng)
            tab = await session.set_widget(opened, "den_tab", "upload tab", string_value="Upload")
            if tab.widget("den_upload") is None:
                raise ProbeError("Denoising (upload tab): no file uploader")
            runs.append(tab)
            if self.upload is not None:
                await self.pause(rng)
                name = f"digit-{self.number}.png"
                uploaded, _ = await session.upload(tab, "den_upload", name, self.upload)
                check_upload_came_back(session, uploaded, name)
                runs.append(uploaded)


# --- a level: N visitors at once ---------------------------------------------------------------

@dataclass
class LevelResult:
    """The figures of one level: every run's time, the errors, and what the server spent."""

    sessions: int
    runs: list[Run]
    errors: list[str]
    wall_seconds: float
    server_cpu_seconds: float | None
    think: tuple[float, float]
    ramp_seconds: float
    rss_mb: dict[str, float] = field(default_factory=dict)  # server memory: "before", "peak", "after"

    def summary(self) -> dict:
        times = [run.seconds for run in self.runs]
        actions = sorted({run.action for run in self.runs})
        return {
            "sessions": self.sessions, "runs": len(times), "errors": len(self.errors),
            "p50_s": quantile(times, 0.50), "p95_s": quantile(times, 0.95), "max_s": max(times, default=None),
            "mean_s": statistics.fmean(times) if times else None,
            "wall_s": self.wall_seconds, "runs_per_s": len(times) / self.wall_seconds if self.wall_seconds else 0.0,
            "server_cpu_ms_per_run": (1000 * self.server_cpu_seconds / len(times)
                                      if self.server_cpu_seconds is not None and times else None),
            "think_s": list(self.think), "ramp_s": self.ramp_seconds,
            "p95_by_action_s": {a: quantile([r.seconds for r in self.runs if r.action == a], 0.95) for a in actions},
            "rss_mb": self.rss_mb,
            "error_samples": self.errors[:10],
        }


def quantile(values: list[float], q: float) -> float | None:
    """The nearest-rank quantile (no interpolation: a value that was measured), None when empty."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None


def resident_mb(pid: int) -> float | None:
    """A process's resident memory now, in MB (Linux /proc), or None elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


async def sample_peak_rss(pid: int | None, peak: dict, every: float = 0.5) -> None:
    """Keep `peak["peak"]` at the highest resident memory seen, until cancelled."""
    while pid:
        rss = resident_mb(pid)
        if rss is not None:
            peak["peak"] = max(peak.get("peak", 0.0), rss)
        await asyncio.sleep(every)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # after "(command name)"
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


async def run_level(base_url: str, sessions: int, pages: tuple[str, ...] = tuple(PAGES),
                    think: tuple[float, float] = (2.0, 8.0), ramp_seconds: float = 10.0,
                    run_timeout: float = 60.0, deadline: float = 600.0, upload: bool = True,
                    every_page: bool = False, server_pid: int | None = None,
                    settle_seconds: float = 0.0) -> LevelResult:
    """`sessions` visitors at once (their starts spread over `ramp_seconds`), all stopped by `deadline`;
    with `settle_seconds`, the server's memory is read again that long after the last one left."""
    require_loopback(base_url)
    runs: list[Run] = []
    errors: list[str] = []
    picture = digit_png(0) if upload and "Denoising" in pages else None

    async def one(number: int) -> None:
        await asyncio.sleep(ramp_seconds * number / max(sessions, 1))
        visitor = Visitor(number, pages, think, picture, every_page)
        try:
            async with Session(base_url, run_timeout) as session:
                await visitor.visit(session, runs)
        except ProbeError as exc:
            errors.append(f"session {number}: {exc}")
        except (OSError, websockets.WebSocketException) as exc:  # refused, reset, closed: the server failed it
            errors.append(f"session {number}: connection failed: {type(exc).__name__}: {exc}")
        except Exception as exc:  # a malformed message, say: still an error of this level, never lost
            errors.append(f"session {number}: unexpected {type(exc).__name__}: {exc}")

    cpu_before = process_cpu_seconds(server_pid) if server_pid else None
    memory = {"before": resident_mb(server_pid)} if server_pid else {}
    sampler = asyncio.create_task(sample_peak_rss(server_pid, memory))
    started = time.perf_counter()
    tasks = {asyncio.create_task(one(n)): n for n in range(sessions)}
    _, pending = await asyncio.wait(tasks, timeout=deadline)
    for task in pending:
        task.cancel()
        errors.append(f"session {tasks[task]}: unfinished at the {deadline:.0f} s deadline")
    if pending:
        await asyncio.wait(pending)
    wall = time.perf_counter() - started
    sampler.cancel()
    cpu_after = process_cpu_seconds(server_pid) if server_pid else None
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    if server_pid and settle_seconds:
        await asyncio.sleep(settle_seconds)  # the sessions have closed their websockets: what stays?
        memory["after"] = resident_mb(server_pid)
    return LevelResult(sessions, runs, errors, wall, cpu, think, ramp_seconds, memory)


def probe(base_url: str, sessions: int, **options) -> LevelResult:
    """Synchronous `run_level`, for tests and bench/run_all.py."""
    return run_sync(run_level(base_url, sessions, **options))


def warm_up(base_url: str, server_pid: int | None = None) -> LevelResult:
    """One visitor through every page with no pauses: the first runs fill the server's caches."""
    return probe(base_url, 1, think=(0.0, 0.0), ramp_seconds=0.0, run_timeout=600.0, deadline=1200.0,
                 every_page=True, server_pid=server_pid)


# --- training and hostile visitors -------------------------------------------------------------
# Many people on one server: browsing visitors while others train at once, one tries to save over
# a shipped model, one saves the same finished run again and again. Shipped files must not change,
# the queue must drain in the order the runs arrived, and each run is saved once.

SAVE_BUTTON = "FormSubmitter:trn_save_form-Save"
TRAINERS = (("dense", 2), ("tied", 2), ("dense_mse", 2), ("sparse", 2), ("deep", 1))  # model, epochs
HOSTILE_NAMES = ("vae", "VAE ", "ｖａｅ", "Vae")  # the shipped name, as a visitor might spell it


def alert_texts(run: Run, kind: int) -> list[str]:
    return [alert.body for alert in run.of("alert") if alert.format == kind]


def check_no_failure(run: Run, allowed_error: str | None = None) -> None:
    """Raise ProbeError on an exception, or an error box other than the one `allowed_error` expects."""
    for exc in run.of("exception"):
        raise ProbeError(f"{run.page} ({run.action}): exception {exc.type}: {exc.message[:200]}")
    for body in alert_texts(run, Alert.ERROR):
        if allowed_error is None or allowed_error not in body:
            raise ProbeError(f"{run.page} ({run.action}): error box: {body[:200]}")


async def press(session: Session, run: Run, key: str, action: str) -> Run:
    """Click a button as the browser does: its trigger is sent with one run, then forgotten."""
    proto = run.widget(key)
    if proto is None:
        raise ProbeError(f"{session.page}: no button {key!r}")
    session.widgets[proto.id] = WidgetState(id=proto.id, trigger_value=True)
    try:
        return await session.rerun(action)
    finally:
        session.widgets.pop(proto.id, None)


async def prepare_training(session: Session, model: str, epochs: int, digits: str | None = None) -> Run:
    """Open the Train page and pick a model, its epochs and (a label like "5,000") its training digits."""
    run = await session.open("Train")
    if model != "dense":
        run = await session.set_widget(run, "trn_model", "model", string_value=model)
    if digits:
        run = await session.set_widget(run, f"trn_{model}_digits", "digits", string_value=digits)
    run = await session.set_widget(run, f"trn_{model}_epochs", "epochs", double_value=float(epochs))
    check_no_failure(run)
    return run


@dataclass
class TrainedRun:
    """What a training visitor saw: its place in the queue, when its run ended, and its link."""

    model: str
    position: int | None = None   # the first queue position shown (None: it trained at once)
    done_at: float | None = None  # perf_counter when the page first showed the result
    job_id: str = ""


async def follow_run(session: Session, run: Run, trained: TrainedRun, runs: list[Run], poll: float,
                     timeout: float) -> Run:
    """Rerun the page every `poll` s, as its live fragment does, until it shows the result."""
    deadline = time.perf_counter() + timeout
    trained.job_id = urllib.parse.parse_qs(session.query_string).get("job", [""])[0]
    while True:
        check_no_failure(run)
        for bar in run.of("progress"):
            found = re.search(r"position (\d+)", bar.text)
            if found and trained.position is None:
                trained.position = int(found.group(1))
        if any(body.startswith("Trained") for body in alert_texts(run, Alert.SUCCESS)):
            trained.done_at = time.perf_counter()
            return run
        if time.perf_counter() > deadline:
            raise ProbeError(f"Train ({trained.model}): no result within {timeout:.0f} s")
        await asyncio.sleep(poll)
        run = await session.rerun("poll")
        runs.append(run)


async def trainer(base_url: str, model: str, epochs: int, go: asyncio.Event, runs: list[Run],
                  run_timeout: float, train_timeout: float) -> TrainedRun:
    """A visitor who sets up a run, presses Train when `go` is set, and follows it to the end."""
    trained = TrainedRun(model)
    async with Session(base_url, run_timeout) as session:
        ready = await prepare_training(session, model, epochs)
        await go.wait()
        started = await press(session, ready, "trn_start", "train")
        runs.append(started)
        await follow_run(session, started, trained, runs, 1.5, train_timeout)
    return trained


async def shipped_name_saver(base_url: str, runs: list[Run], run_timeout: float, train_timeout: float) -> list[str]:
    """A visitor who trains vae briefly and tries to save it as `vae`, spelt several ways; returns the refusals."""
    refusals = []
    async with Session(base_url, run_timeout) as session:
        ready = await prepare_training(session, "vae", 1, digits="5,000")
        run = await follow_run(session, await press(session, ready, "trn_start", "train"), TrainedRun("vae"),
                               runs, 1.5, train_timeout)
        for name in HOSTILE_NAMES:
            run = await session.set_widget(run, "trn_save_name", "name", string_value=name)
            run = await press(session, run, SAVE_BUTTON, f"save as {name!r}")
            runs.append(run)
            check_no_failure(run, allowed_error="shipped model")
            refusals += [body for body in alert_texts(run, Alert.ERROR) if "shipped model" in body]
            if alert_texts(run, Alert.SUCCESS) and any("Saved as" in b for b in alert_texts(run, Alert.SUCCESS)):
                raise ProbeError(f"Train: saving as {name!r} was accepted")
    return refusals


async def repeat_saver(base_url: str, runs: list[Run], run_timeout: float, train_timeout: float,
                       tries: int = 20) -> dict:
    """A visitor who saves one finished run, then opens its link in new sessions and tries to save it again."""
    async with Session(base_url, run_timeout) as session:
        ready = await prepare_training(session, "dense", 1, digits="5,000")
        trained = TrainedRun("dense")
        run = await follow_run(session, await press(session, ready, "trn_start", "train"), trained, runs, 1.5,
                               train_timeout)
        run = await session.set_widget(run, "trn_save_name", "name", string_value="probe-copy-0")
        form = {key: run.widget(key) for key in ("trn_save_name", SAVE_BUTTON)}
        run = await press(session, run, SAVE_BUTTON, "save")
        runs.append(run)
        check_no_failure(run)
        saved_once = any("Saved as" in body for body in alert_texts(run, Alert.SUCCESS))
        # the same tab forges the form's submit again, with another name: the form is gone
        session.widgets[form["trn_save_name"].id] = WidgetState(id=form["trn_save_name"].id, string_value="probe-copy-x")
        session.widgets[form[SAVE_BUTTON].id] = WidgetState(id=form[SAVE_BUTTON].id, trigger_value=True)
        forged = await session.rerun("forged save")
        session.widgets.pop(form[SAVE_BUTTON].id)
        runs.append(forged)
        check_no_failure(forged)
    offered = 0
    for _attempt in range(tries):  # other tabs open the run's link: each finds it saved, with no form
        async with Session(base_url, run_timeout) as other:
            linked = await other.open("Train", query_string=f"job={trained.job_id}",
                                      check=PageCheck("Train a model", ("button",)))
            runs.append(linked)
            offered += linked.widget("trn_save_name") is not None
    return {"saved_once": saved_once, "link_opens": tries, "save_forms_offered": offered}


def file_hashes(folder: Path) -> dict[str, str]:
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.safetensors"))}


async def hostile_level(base_url: str, checkpoint_dir: Path, browsing: int = 30, server_pid: int | None = None,
                        think: tuple[float, float] = (2.0, 8.0), run_timeout: float = 60.0,
                        train_timeout: float = 600.0) -> dict:
    """`browsing` visitors browse while the TRAINERS press Train at the same moment and two hostile
    visitors act; returns the figures and the checks."""
    shipped_before = file_hashes(checkpoint_dir)
    runs: list[Run] = []
    errors: list[str] = []
    go = asyncio.Event()
    memory = {"before": resident_mb(server_pid)} if server_pid else {}
    sampler = asyncio.create_task(sample_peak_rss(server_pid, memory))
    picture = digit_png(0)

    async def guarded(label: str, coroutine):
        try:
            return await coroutine
        except ProbeError as exc:
            errors.append(f"{label}: {exc}")
        except (OSError, websockets.WebSocketException) as exc:
            errors.append(f"{label}: connection failed: {type(exc).__name__}: {exc}")
        return None

    async def browse(number: int) -> None:
        await asyncio.sleep(10.0 * number / browsing)
        async with Session(base_url, run_timeout) as session:
            await Visitor(number, tuple(PAGES), think, picture).visit(session, runs)

    async def release_trainers() -> None:
        await asyncio.sleep(5.0)  # the trainers have their settings ready by then
        go.set()

    started = time.perf_counter()
    tasks = [guarded(f"browser {n}", browse(n)) for n in range(browsing)]
    tasks += [guarded(f"trainer {m}", trainer(base_url, m, e, go, runs, run_timeout, train_timeout))
              for m, e in TRAINERS]
    tasks += [guarded("shipped-name saver", shipped_name_saver(base_url, runs, run_timeout, train_timeout)),
              guarded("repeat saver", repeat_saver(base_url, runs, run_timeout, train_timeout)),
              release_trainers()]
    outcomes = await asyncio.gather(*tasks)
    wall = time.perf_counter() - started
    sampler.cancel()
    trained = [o for o in outcomes[browsing:browsing + len(TRAINERS)] if isinstance(o, TrainedRun)]
    by_arrival = sorted(trained, key=lambda t: t.position or 0)
    in_order = len(trained) == len(TRAINERS) and [t.done_at for t in by_arrival] == sorted(t.done_at for t in trained)
    refusals, repeats = outcomes[browsing + len(TRAINERS)], outcomes[browsing + len(TRAINERS) + 1]
    visitor_files = sorted(p.name for p in (checkpoint_dir / "visitors").glob("*.safetensors"))
    times = [run.seconds for run in runs]
    return {
        "browsing_sessions": browsing, "training_sessions": len(TRAINERS), "runs": len(runs), "errors": errors,
        "p50_s": quantile(times, 0.5), "p95_s": quantile(times, 0.95), "max_s": max(times, default=None),
        "wall_s": round(wall, 1),
        "queue": [{"model": t.model, "position": t.position, "done_s": round(t.done_at - started, 1)} for t in by_arrival],
        "queue_in_order": in_order,
        "shipped_name_refusals": len(refusals or []), "shipped_name_attempts": len(HOSTILE_NAMES),
        "repeat_saver": repeats, "visitor_files": visitor_files,
        "shipped_sha256_unchanged": file_hashes(checkpoint_dir) == shipped_before,
        "shipped_files": len(shipped_before), "server_rss_mb": memory,
    }


def format_seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def markdown_table(results: list[LevelResult]) -> str:
    rows = ["| sessions | script runs | errors | p50 run (s) | p95 run (s) | max (s) | runs/s | server CPU per run "
            "| server MB before / peak / after |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for result in results:
        s = result.summary()
        cpu = "-" if s["server_cpu_ms_per_run"] is None else f"{s['server_cpu_ms_per_run']:.0f} ms"
        rss = s["rss_mb"]
        memory = " / ".join(format_mb(rss.get(k)) for k in ("before", "peak", "after"))
        rows.append(f"| {s['sessions']} | {s['runs']} | {s['errors']} | {format_seconds(s['p50_s'])} | "
                    f"{format_seconds(s['p95_s'])} | {format_seconds(s['max_s'])} | {s['runs_per_s']:.1f} | {cpu} "
                    f"| {memory} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS), help="concurrent sessions per level")
    parser.add_argument("--pages", nargs="+", default=list(PAGES), choices=list(PAGES),
                        help="pages the visitors may open (the home page always)")
    parser.add_argument("--think", type=float, nargs=2, default=(2.0, 8.0), metavar=("MIN", "MAX"),
                        help="seconds a visitor pauses between steps, uniform between MIN and MAX")
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds over which a level's sessions arrive")
    parser.add_argument("--run-timeout", type=float, default=60.0, help="seconds a single run may take")
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds a whole level may take")
    parser.add_argument("--url", help="probe a server already running on a loopback address instead")
    parser.add_argument("--server-env", nargs="+", default=[], metavar="NAME=VALUE",
                        help="environment of the started server, e.g. STREAMLIT_RUNNER_POST_SCRIPT_GC=false")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--settle", type=float, default=0.0,
                        help="seconds after a level's last visitor left to read the server's memory again")
    parser.add_argument("--hostile", action="store_true",
                        help="instead of the levels: 30 visitors browsing while training and hostile visitors act "
                             "(the server gets a temporary copy of the checkpoints)")
    parser.add_argument("--browsers", type=int, default=30, help="with --hostile: visitors browsing meanwhile")
    parser.add_argument("--server-pid", type=int, help="with --url: the server's process id, for its CPU and memory")
    parser.add_argument("--checkpoint-dir", type=Path,
                        help="with --url --hostile: the server's checkpoint folder (AE_CHECKPOINT_DIR), to hash")
    args = parser.parse_args(argv)

    from tests.app_server import start_server, stop_server

    process, server_env = None, dict(item.split("=", 1) for item in args.server_env)
    checkpoint_copy = None
    if args.hostile and not args.url:
        checkpoint_copy = Path(tempfile.mkdtemp(prefix="probe-checkpoints-"))
        for path in (Path(__file__).resolve().parents[1] / "checkpoints").glob("*.safetensors"):
            shutil.copy(path, checkpoint_copy)
        server_env = {"AE_CHECKPOINT_DIR": str(checkpoint_copy), "AE_TRAIN_MAX_WAITING": "8", **server_env}
    if args.url:
        url, pid = require_loopback(args.url), args.server_pid
    else:
        process, url = start_server(server_env)
        pid = process.pid
    try:
        cold = warm_up(url, pid)
        if args.hostile:
            report = run_sync(hostile_level(url, args.checkpoint_dir or checkpoint_copy, args.browsers, server_pid=pid,
                                            think=tuple(args.think), run_timeout=args.run_timeout))
            print(json.dumps({"warm_up_errors": cold.errors, "server_env": server_env,
                              "load_average": os.getloadavg()[0], **report}, indent=1, ensure_ascii=False))
            return 0 if not report["errors"] and report["queue_in_order"] and report["shipped_sha256_unchanged"] else 1
        results = [probe(url, n, pages=tuple(args.pages), think=tuple(args.think), ramp_seconds=args.ramp,
                         run_timeout=args.run_timeout, deadline=args.deadline, server_pid=pid,
                         settle_seconds=args.settle)
                   for n in args.levels]
    finally:
        if process is not None:
            stop_server(process)
        if checkpoint_copy is not None:
            shutil.rmtree(checkpoint_copy, ignore_errors=True)

    if args.json:
        print(json.dumps({"warm_up": cold.summary(), "levels": [r.summary() for r in results],
                          "server_env": args.server_env}, indent=1))
    else:
        first = {r.action + " " + (r.page or "home"): round(r.seconds, 2) for r in cold.runs}
        print(f"warm-up, one visitor, first runs (s): {first}; errors: {cold.errors or 'none'}")
        print(f"pages: {', '.join(p or 'home' for p in args.pages)}; think {args.think[0]:g}-{args.think[1]:g} s "
              f"between steps; sessions arrive over {args.ramp:g} s; load average {os.getloadavg()[0]:.1f}"
              + (f"; server environment {' '.join(args.server_env)}" if args.server_env else ""))
        print(markdown_table(results))
        for result in results:
            for error in result.errors[:5]:
                print(f"  {result.sessions} sessions: {error}")
    return 0 if all(not r.errors for r in [cold, *results]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
