"""A real local Ray cluster for tests: a head and worker nodes, each a `ray start --block` process
in a session of its own, so that a test can kill one node (its whole process group) and the
cluster is stopped afterwards by the ids this helper started, never by name (`ray stop` would
stop every Ray process on the machine). Not a test module."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

RAY = str(Path(sys.executable).parent / "ray")
# Nodes and the drivers that join them agree on token authentication; with the mode unset, Ray
# 2.60 starts a head that wants a token and clients that send none. Each cluster has a token of
# its own, in the environment (RAY_AUTH_TOKEN): with none, `ray start --head` does not make one
# but every node reads ~/.ray/auth_token, which a fresh machine lacks and which a second cluster
# (another test process) or `ray get-auth-token --generate` may replace under a running one.
RAY_ENV = {"RAY_AUTH_MODE": "token"}
START_TIMEOUT_S = 300.0
# A node whose `ray start` exits before it joins is started again this often: under a full
# parallel test run, a port Ray picked as free (by binding port 0 and letting it go) can be taken
# by another test's server before Ray binds it again.
START_TRIES = 3
# Bytes of each node's object store: the scan moves little data through it, and Ray's default
# (30 % of the machine's memory, per node) is far more than a test needs.
OBJECT_STORE_BYTES = 200 * 1024 * 1024
# Seconds between `ray status` probes while a node comes up (each is a Python process of its own).
PROBE_S = 2.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RayCluster:
    """`with RayCluster(temp_dir) as cluster:` a head with one CPU; `add_node()` adds a worker
    node with one CPU; `kill(node)` SIGKILLs a node's process group; the exit stops them all."""

    def __init__(self, temp_dir: Path, *, head_cpus: int = 1) -> None:
        self.temp_dir = temp_dir
        self.address = ""
        # What a driver joining this cluster needs in its environment (`tutela scan --ray`).
        self.ray_env = {**RAY_ENV, "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self.env = {**os.environ, **self.ray_env, "RAY_TMPDIR": str(temp_dir)}
        self.env.pop("RAY_AUTH_TOKEN_PATH", None)
        self._head_cpus = head_cpus
        # The nodes alive, head first; and every process started, for the clean-up.
        self.nodes: list[subprocess.Popen[bytes]] = []
        self._started: list[subprocess.Popen[bytes]] = []
        self._cpus = 0.0

    def __enter__(self) -> RayCluster:
        try:
            self._start(
                lambda: ["--head", f"--port={self._head_port()}", "--include-dashboard=false"],
                self._head_cpus,
            )
        except BaseException:
            self.__exit__()
            raise
        return self

    def _head_port(self) -> int:
        port = _free_port()
        self.address = f"127.0.0.1:{port}"
        return port

    def add_node(self) -> subprocess.Popen[bytes]:
        """A worker node with one CPU, once the cluster counts its CPU."""
        return self._start(lambda: [f"--address={self.address}"], 1)

    def _start(self, args: Callable[[], list[str]], cpus: int) -> subprocess.Popen[bytes]:
        for attempt in range(1, START_TRIES + 1):
            name = f"node{len(self.nodes)}-try{attempt}.log"
            with open(self.temp_dir / name, "wb") as log:
                node = self._popen(args(), cpus, log)
            self._started.append(node)
            if self._await_cpus(self._cpus + cpus, node):
                self.nodes.append(node)
                self._cpus += cpus
                return node
            node.wait()
        raise RuntimeError(
            f"a Ray node exited {START_TRIES} times before joining (logs in {self.temp_dir})"
        )

    def _popen(self, args: list[str], cpus: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                RAY,
                "start",
                "--block",
                *args,
                f"--num-cpus={cpus}",
                f"--object-store-memory={OBJECT_STORE_BYTES}",
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
        try:
            done = subprocess.run(
                [RAY, "status", f"--address={self.address}"],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        except subprocess.TimeoutExpired:  # a machine under load: ask again
            return 0.0
        for line in done.stdout.splitlines():
            if line.strip().endswith(" CPU") and "/" in line:
                return float(line.strip().split("/")[1].split()[0])
        return 0.0

    def _await_cpus(self, cpus: float, node: subprocess.Popen[bytes]) -> bool:
        """True once the cluster counts `cpus`; False when `node` exited first (to be started
        again). A node alive that does not join within START_TIMEOUT_S fails the test."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while node.poll() is None:
            if self.cpus() >= cpus:
                return True
            if any(n.poll() is not None for n in self.nodes):
                raise RuntimeError(
                    f"a Ray node died while another joined (logs in {self.temp_dir})"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Ray cluster did not come up (logs in {self.temp_dir})")
            time.sleep(PROBE_S)
        return False

    def kill(self, node: subprocess.Popen[bytes]) -> None:
        """SIGKILL a node with all its processes (raylet, workers, their hashing processes)."""
        os.killpg(node.pid, signal.SIGKILL)
        node.wait()
        self.nodes.remove(node)
        self._cpus -= 1

    def __exit__(self, *exc: object) -> None:
        for node in reversed(self._started):
            if node.poll() is None:
                os.killpg(node.pid, signal.SIGTERM)
        for node in reversed(self._started):
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.wait(10)
            # Whatever of its session is left (a worker slow to go): by its process group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGKILL)
            node.wait()
