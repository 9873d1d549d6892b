"""The Ray tests, run inside a network namespace of their own so that all their traffic stays on
loopback (Ray binds to the machine's network address even when told 127.0.0.1): the job contract
on a real Ray head, the faults, and two replicas behind nginx losing one mid-run."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.ray_cluster import RAY_TESTS_FLAG

PROJECT = Path(__file__).resolve().parents[1]
RAY_TESTS = ["tests/test_job_contract.py", "tests/test_ray_faults.py", "tests/e2e/test_replicas_e2e.py"]


def test_the_ray_backend_keeps_the_contract_and_survives_faults_on_loopback():
    command = f"ip link set lo up && exec {sys.executable} -m pytest -q {' '.join(RAY_TESTS)}"
    process = subprocess.Popen(["unshare", "-n", "sh", "-c", command], cwd=PROJECT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True,
                               env={**os.environ, RAY_TESTS_FLAG: "1", "RAY_AUTH_MODE": "disabled"})
    try:
        output, _ = process.communicate(timeout=2400)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGINT)  # the fixtures stop their heads and servers
        output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output[-10000:]
    assert " passed" in output and "skipped" not in output, output[-2000:]
