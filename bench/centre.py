"""Sustained intake at a running centre node on PostgreSQL: several client processes POST signed
reports over keep-alive connections; every report's signature is checked and it is linked into an
incident.

    python bench/centre.py [--reports 3000] [--clients 2] [--connections 8] [--workers 2]

Needs a PostgreSQL server: TUTELA_BENCH_DATABASE_URL or TUTELA_TEST_DATABASE_URL (default
postgresql+psycopg://postgres@localhost/postgres); a temporary database is created and dropped.
The clients sign every report before the clock starts and speak raw HTTP/1.1 from asyncio, so
that on a small machine the CPU goes to the centre, not to the load; the CPU both sides used is
printed. No peer implements a centre, so the line states the absolute figure against the
200 reports/s target. Reports are built from placeholder data (tests/report_samples.py);
nothing depicts anything.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from report_samples import PROVIDER, sample_input  # noqa: E402
from tutela.centre.providers import register_provider  # noqa: E402
from tutela.db import normalise_url, open_database  # noqa: E402
from tutela.messaging.signing import SignedReport, generate_key_file, sign_report  # noqa: E402
from tutela.reporting.fields import MatchFacts  # noqa: E402
from tutela.reporting.report import build_report  # noqa: E402
from tutela.settings import Settings  # noqa: E402

TUTELA = str(Path(sys.executable).parent / "tutela")
TARGET = 200


def signed_reports(key_file: Path, start: int, count: int) -> list[SignedReport]:
    from tutela.messaging.signing import load_key_file

    key = load_key_file(key_file)
    rng = random.Random(start)
    now = datetime.now(UTC)
    out = []
    for case_id in range(start, start + count):
        pdq = f"{rng.getrandbits(256):064x}"
        md5 = f"{rng.getrandbits(128):032x}"
        source = sample_input(
            case_id,
            matches=(MatchFacts("bench-bank", case_id, "pdq", pdq, 0),),
            signals={"pdq": pdq, "md5": md5},
        )
        out.append(sign_report(build_report(source, PROVIDER, now), key, now))
    return out


def request_bytes(report: SignedReport, port: int) -> bytes:
    head = (
        f"POST /v1/reports HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"Tutela-Key-Id: {report.key_id}\r\nTutela-Signature: {report.signature}\r\n"
        f"Idempotency-Key: {uuid.uuid4()}\r\nContent-Length: {len(report.body)}\r\n\r\n"
    )
    return head.encode("ascii") + report.body


async def post_all(port: int, requests: list[bytes], connections: int) -> list[float]:
    """Send every request over `connections` keep-alive connections, one in flight on each."""
    pending = iter(requests)
    latencies: list[float] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for request in pending:
            began = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12]
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            answer = await reader.readexactly(length)
            assert status == b"201", (status, answer)
            latencies.append(time.perf_counter() - began)
        writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    return latencies


def client(args: tuple[int, Path, int, int, int]) -> tuple[list[float], float]:
    """One client process: its latencies and the CPU seconds it spent sending."""
    port, key_file, start, count, connections = args
    requests = [request_bytes(r, port) for r in signed_reports(key_file, start, count)]
    barrier_wait()
    before = resource.getrusage(resource.RUSAGE_SELF)
    latencies = asyncio.run(post_all(port, requests, connections))
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return latencies, cpu


_START: float = 0.0


def barrier_wait() -> None:
    # Clients build their reports first, then all start at the same wall-clock moment.
    barrier_wait_until(_START)


def init(start: float) -> None:
    global _START
    _START = start


def process_tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its live children (uvicorn's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8, help="per client process")
    parser.add_argument("--workers", type=int, default=2, help="centre worker processes")
    options = parser.parse_args()
    server = (
        os.environ.get("TUTELA_BENCH_DATABASE_URL")
        or os.environ.get("TUTELA_TEST_DATABASE_URL")
        or "postgresql+psycopg://postgres@localhost/postgres"
    )
    admin = create_engine(make_url(normalise_url(server)), isolation_level="AUTOCOMMIT")
    name = f"tutela_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_url(server)).set(database=name).render_as_string(hide_password=False)
    centre = None
    try:
        with tempfile.TemporaryDirectory() as temp:
            settings = Settings(data_dir=Path(temp), database_url=url)
            key = generate_key_file(Path(temp) / "provider.pem")
            database = open_database(settings)
            with database.unit_of_work() as session:
                register_provider(session, PROVIDER.name, key.public_key_pem(), datetime.now(UTC))
            database.close()
            port = _free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")}
            env.update(TUTELA_DATA_DIR=temp, TUTELA_DATABASE_URL=url)
            serve = [TUTELA, "centre", "serve", "--no-sender", "--port", str(port)]
            serve += ["--workers", str(options.workers)]
            centre = subprocess.Popen(serve, env=env)
            _wait(f"http://127.0.0.1:{port}", options.workers)
            per = options.reports // options.clients
            jobs = [
                (port, Path(temp) / "provider.pem", i * per, per, options.connections)
                for i in range(options.clients)
            ]
            start = time.time() + 2 + per / 1500  # time to build the reports first
            with multiprocessing.get_context("spawn").Pool(
                options.clients, initializer=init, initargs=(start,)
            ) as pool:
                waiting = pool.map_async(client, jobs)
                barrier_wait_until(start)
                centre_before = process_tree_cpu(centre.pid)
                results = waiting.get()
            elapsed = time.time() - start
            centre_cpu = process_tree_cpu(centre.pid) - centre_before
    finally:
        if centre is not None:
            centre.terminate()
            centre.wait()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    latencies = sorted(x for r, _ in results for x in r)
    client_cpu = sum(cpu for _, cpu in results)
    total = len(latencies)
    p99 = latencies[min(total - 1, int(total * 0.99))] * 1000
    rate = total / elapsed
    print(
        f"{total} signed reports from {options.clients} processes × {options.connections} "
        f"connections to {options.workers} centre workers in {elapsed:.1f} s"
    )
    print(
        f"cpu: centre {centre_cpu:.1f} s ({centre_cpu / elapsed:.0%} of a core), "
        f"clients {client_cpu:.1f} s ({client_cpu / elapsed:.0%} of a core)"
    )
    print(f"target: {TARGET} reports/s on 2 cores ({rate / TARGET:.2f}x)")
    print(f"centre-intake: {rate:.0f} reports/s, p99 {p99:.0f} ms")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def barrier_wait_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


def _wait(base: str, workers: int) -> None:
    """Until the node answers; with several workers, until each had time to warm up."""
    for _ in range(600):
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                time.sleep(1.0 if workers > 1 else 0)
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the centre node did not start")


if __name__ == "__main__":
    main()
