"""A real Ray head for the tests, on loopback, inside the network namespace the Ray tests run in.

Ray binds to the machine's network address even when told 127.0.0.1, so the Ray tests run in a
network namespace of their own (`unshare -n`, loopback up: 127.0.0.1 is the only address there);
tests/test_ray_network.py starts them so and sets RAY_TESTS_FLAG. A head is stopped by SIGINT to
its own `ray start --block` process, never by `ray stop`, which ends every Ray process on the machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY_TESTS_FLAG = "AE_RAY_TESTS"  # set inside the namespace: the Ray tests run there, and only there
GCS_PORT = 26379                  # outside Ray's default worker ports (10002-19999)
CLIENT_PORT = 20001
ADDRESS = f"ray://127.0.0.1:{CLIENT_PORT}"
CPUS = 2                          # the tests' machines have 2 cores, shared


def in_own_network() -> bool:
    return os.environ.get(RAY_TESTS_FLAG) == "1"


class RayHead:
    """`ray start --head --block` with its own ports and temporary folder; `stop()` ends it."""

    def __init__(self):
        # a short path: Ray's socket paths must stay under 107 characters
        self.folder = Path(tempfile.mkdtemp(prefix="aeray", dir="/tmp"))
        ray = Path(sys.executable).with_name("ray")
        with open(self.folder / "head.log", "wb") as log:  # the child keeps its own copy of the file
            self.process = subprocess.Popen(
                [str(ray), "start", "--head", "--block", "--port", str(GCS_PORT), "--ray-client-server-port",
                 str(CLIENT_PORT), "--num-cpus", str(CPUS), "--include-dashboard=false", "--disable-usage-stats",
                 "--temp-dir", str(self.folder)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "RAY_AUTH_MODE": "disabled"})

    def descendants(self) -> list[tuple[int, str]]:
        """(pid, command line) of every process under the head, its workers included."""
        children: dict[int, list[int]] = {}
        commands: dict[int, str] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
        found, todo = [], [self.process.pid]
        while todo:
            for child in children.get(todo.pop(), []):
                found.append((child, commands.get(child, "")))
                todo.append(child)
        return found

    def workers_running(self, task: str) -> list[int]:
        """Worker processes executing the Ray task `task` now (Ray titles them "ray::<task>")."""
        return [pid for pid, command in self.descendants() if command.startswith(f"ray::{task}")]

    def stop(self) -> None:
        """SIGINT to the head (it stops its raylet, workers and GCS), SIGKILL to its group if it hangs."""
        under = self.descendants()  # known now: once the head exits, its orphans are no longer under it
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        for pid, command in under:  # nothing of it outlives the test
            try:
                if (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                        errors="replace") == command:
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass


def wait_until(check, seconds: float, what: str, every: float = 0.5):
    """Call `check` until it returns something true, for at most `seconds`; that value."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {seconds:g} s: {what}"
        time.sleep(every)
