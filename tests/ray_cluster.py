"""A real local Ray cluster for tests: a head and worker nodes, each a `ray start --block` process
in a session of its own, so that a test can kill one node (its whole process group) and the
cluster is stopped afterwards by the ids this helper started, never by name (`ray stop` would
stop every Ray process on the machine). Not a test module."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

RAY = str(Path(sys.executable).parent / "ray")
# Nodes and the drivers that join them agree on token authentication (the token is Ray's own,
# in ~/.ray/auth_token); with the mode unset, Ray 2.60 starts a head that wants a token and
# clients that send none.
RAY_ENV = {"RAY_AUTH_MODE": "token"}
START_TIMEOUT_S = 180.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RayCluster:
    """`with RayCluster(temp_dir) as cluster:` a head with one CPU; `add_node()` adds a worker
    node with one CPU; `kill(node)` SIGKILLs a node's process group; the exit stops them all."""

    def __init__(self, temp_dir: Path, *, head_cpus: int = 1) -> None:
        self.temp_dir = temp_dir
        self.address = f"127.0.0.1:{_free_port()}"
        self.env = {**os.environ, **RAY_ENV, "RAY_TMPDIR": str(temp_dir)}
        self._head_cpus = head_cpus
        self.nodes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> RayCluster:
        port = self.address.rsplit(":", 1)[1]
        try:
            self._start(["--head", f"--port={port}", "--include-dashboard=false"], self._head_cpus)
        except BaseException:
            self.__exit__()
            raise
        return self

    def add_node(self) -> subprocess.Popen[bytes]:
        return self._start([f"--address={self.address}"], 1)

    def _start(self, args: list[str], cpus: int) -> subprocess.Popen[bytes]:
        with open(self.temp_dir / f"node{len(self.nodes)}.log", "wb") as log:
            node = self._popen(args, cpus, log)
        self.nodes.append(node)
        expected = sum(1 for n in self.nodes if n.poll() is None)
        self._await_cpus(expected)
        return node

    def _popen(self, args: list[str], cpus: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                RAY,
                "start",
                "--block",
                *args,
                f"--num-cpus={cpus}",
                f"--temp-dir={self.temp_dir}",
                "--node-ip-address=127.0.0.1",
                "--disable-usage-stats",
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def cpus(self) -> float:
        """The CPUs of the nodes alive, as the cluster sees them (0 while it cannot say)."""
        done = subprocess.run(
            [RAY, "status", f"--address={self.address}"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        for line in done.stdout.splitlines():
            if line.strip().endswith(" CPU") and "/" in line:
                return float(line.strip().split("/")[1].split()[0])
        return 0.0

    def _await_cpus(self, cpus: float) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.cpus() < cpus:
            if time.monotonic() > deadline or any(n.poll() is not None for n in self.nodes):
                raise RuntimeError(f"the Ray cluster did not come up (logs in {self.temp_dir})")
            time.sleep(1)

    def kill(self, node: subprocess.Popen[bytes]) -> None:
        """SIGKILL a node with all its processes (raylet, workers, their hashing processes)."""
        os.killpg(node.pid, signal.SIGKILL)
        node.wait()

    def __exit__(self, *exc: object) -> None:
        for node in reversed(self.nodes):
            if node.poll() is None:
                os.killpg(node.pid, signal.SIGTERM)
        for node in reversed(self.nodes):
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.wait(10)
            # Whatever of its session is left (a worker slow to go): by its process group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGKILL)
            node.wait()
