"""Hostile and malformed files give their documented error code, or a hash, and never more.

The corpus is `hostile_files.hostile_cases()`; each case names what must happen. The same corpus
goes through the library (`decode_image`, `hash_media`) and through `tutela hash --json` in one
run, which must print one line per file, exit 1, print no traceback and stay within 512 MB.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hostile_files import HASH, TOO_LARGE, HostileCase, encode, hostile_cases, photo
from tutela.errors import MEDIA_ERRORS_BY_CODE, MediaError
from tutela.media import MediaLimits, decode_image
from tutela.media.decode import MAX_JPEG_SCANS
from tutela.signals.hashing import hash_media
from tutela.signals.pdq import PdqMode

CASES = hostile_cases()
FAILING = [case for case in CASES if case.expect != HASH]
RSS_LIMIT_BYTES = 512 * 1024 * 1024


def _ids(cases: list[HostileCase]) -> list[str]:
    return [case.name for case in cases]


def test_corpus_has_at_least_thirty_cases_with_unique_names_and_known_codes() -> None:
    assert len(CASES) >= 30
    assert len({case.name for case in CASES}) == len(CASES)
    assert {case.expect for case in CASES} <= {HASH, *MEDIA_ERRORS_BY_CODE}


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_decode_image_gives_pixels_or_the_documented_code(case: HostileCase) -> None:
    if case.expect == HASH:
        image = decode_image(case.data)
        assert image.pixels.dtype == np.uint8
        assert image.pixels.shape[:2] == (image.height, image.width)
    else:
        with pytest.raises(MediaError) as raised:
            decode_image(case.data)
        assert raised.value.code == case.expect, raised.value.message


@pytest.mark.parametrize("mode", list(PdqMode))
@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_hash_media_gives_a_pdq_or_the_documented_code(case: HostileCase, mode: PdqMode) -> None:
    signals = hash_media(case.data, mode=mode)
    if case.expect == HASH:
        assert signals.error is None
        assert signals.pdq is not None
        assert len(signals.pdq.hash) == 64
    else:
        assert signals.pdq is None
        assert signals.error is not None
        assert signals.error.code == case.expect, signals.error.message


@pytest.mark.parametrize("case", FAILING, ids=_ids(FAILING))
def test_a_file_that_fails_to_decode_still_gets_its_exact_hashes(case: HostileCase) -> None:
    signals = hash_media(case.data)
    assert signals.md5 == hashlib.md5(case.data).hexdigest()
    assert signals.sha256 == hashlib.sha256(case.data).hexdigest()


@pytest.mark.parametrize("case", FAILING, ids=_ids(FAILING))
def test_error_messages_are_short_and_carry_no_content(case: HostileCase) -> None:
    with pytest.raises(MediaError) as raised:
        decode_image(case.data)
    message = raised.value.message
    assert len(message) <= 300
    # DESIGN rule 2: no content bytes in errors. Any 12-byte run of the file would show it.
    text = case.data.decode("latin-1")
    runs = {text[i : i + 12] for i in range(0, max(0, len(text) - 12), 7)}
    assert not [run for run in runs if run.isprintable() and run in message]


def test_one_pixel_image_hashes_but_is_not_matchable() -> None:
    case = next(c for c in CASES if c.name == "one_pixel.png")
    signals = hash_media(case.data)
    assert signals.pdq is not None
    assert not signals.pdq.matchable


def test_wide_image_under_the_pixel_limit_hashes_at_its_stored_size() -> None:
    case = next(c for c in CASES if c.name == "wide_50000x1.png")
    image = decode_image(case.data)
    assert (image.width, image.height) == (50_000, 1)


# --- the pixel and byte limits, with small custom limits instead of huge files -----------------

LIMIT_FORMATS = {
    "JPEG": {"quality": 90},
    "PNG": {},
    "GIF": {},
    "WEBP": {"quality": 90},
    "BMP": {},
    "TIFF": {},
}


def _small_photo_file(fmt: str) -> tuple[bytes, int]:
    pixels = photo(width=48)
    data = encode(Image.fromarray(pixels), fmt, **LIMIT_FORMATS[fmt])
    return data, pixels.shape[0] * pixels.shape[1]


@pytest.mark.parametrize("fmt", list(LIMIT_FORMATS))
def test_image_exactly_at_the_pixel_limit_decodes(fmt: str) -> None:
    data, pixels = _small_photo_file(fmt)
    image = decode_image(data, MediaLimits(max_pixels=pixels))
    assert image.width * image.height == pixels


@pytest.mark.parametrize("fmt", list(LIMIT_FORMATS))
def test_image_one_pixel_over_the_limit_is_too_large(fmt: str) -> None:
    data, pixels = _small_photo_file(fmt)
    with pytest.raises(MediaError) as raised:
        decode_image(data, MediaLimits(max_pixels=pixels - 1))
    assert raised.value.code == TOO_LARGE


@pytest.mark.parametrize("fmt", list(LIMIT_FORMATS))
def test_pixel_limit_is_checked_from_the_header_before_the_pixel_data(fmt: str) -> None:
    # Pixel data cut off: were the limit checked only after decoding, this would be `corrupt`.
    data, pixels = _small_photo_file(fmt)
    with pytest.raises(MediaError) as raised:
        decode_image(data[: len(data) // 2], MediaLimits(max_pixels=pixels - 1))
    assert raised.value.code == TOO_LARGE


def test_file_one_byte_over_the_byte_limit_is_too_large() -> None:
    data, _ = _small_photo_file("PNG")
    decode_image(data, MediaLimits(max_bytes=len(data)))
    with pytest.raises(MediaError) as raised:
        decode_image(data, MediaLimits(max_bytes=len(data) - 1))
    assert raised.value.code == TOO_LARGE


# --- progressive JPEG scan count ---------------------------------------------------------------


def _jpeg_with_scans(total: int) -> bytes:
    data = encode(Image.fromarray(photo(width=16)), "JPEG", progressive=True)
    scans = data.count(b"\xff\xda")
    last = data.rindex(b"\xff\xda")
    end = data.rindex(b"\xff\xd9")
    return data[:end] + data[last:end] * (total - scans) + b"\xff\xd9"


def test_jpeg_with_as_many_scans_as_allowed_decodes() -> None:
    decode_image(_jpeg_with_scans(MAX_JPEG_SCANS))


def test_jpeg_with_one_scan_too_many_is_too_large() -> None:
    with pytest.raises(MediaError) as raised:
        decode_image(_jpeg_with_scans(MAX_JPEG_SCANS + 1))
    assert raised.value.code == TOO_LARGE


def test_scan_marker_bytes_inside_a_comment_are_not_counted_as_scans() -> None:
    fake_markers = b"\xff\xda" * (MAX_JPEG_SCANS + 1)
    data = encode(Image.fromarray(photo(width=16)), "JPEG", comment=fake_markers)
    decode_image(data)


# --- the whole corpus through the command line ---------------------------------------------------


def _tree_rss(root: int) -> dict[int, tuple[int, int]]:
    """(VmRSS, VmHWM) in bytes of `root` and all its descendants, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: dict[int, tuple[int, int]] = {}
    stack = [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if "VmRSS" in fields:
            kib = (int(fields[name].split()[0]) * 1024 for name in ("VmRSS", "VmHWM"))
            found[pid] = (next(kib), next(kib))
    return found


@dataclass
class RssTrace:
    peak_sum: int = 0  # largest sum of the tree's RSS at one sample
    peak_single: int = 0  # largest peak (VmHWM) of any one process, between samples too
    processes: set[int] = field(default_factory=set)

    def sample(self, root: int) -> None:
        tree = _tree_rss(root)
        self.processes.update(tree)
        self.peak_sum = max(self.peak_sum, sum(rss for rss, _ in tree.values()))
        self.peak_single = max([self.peak_single, *(hwm for _, hwm in tree.values())])


# The four tests below read one `tutela hash` run (the module-scoped cli_run); with -n they run on
# one worker (`--dist loadgroup`), so the run is made once, not once per worker.
ONE_CLI_RUN = pytest.mark.xdist_group("hostile-cli")


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str, RssTrace]:
    folder = tmp_path_factory.mktemp("hostile")
    for case in CASES:
        (folder / case.name).write_bytes(case.data)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")}
    command = [str(Path(sys.executable).parent / "tutela"), "hash", "--json", "--jobs", "2"]
    trace = RssTrace()
    with (
        open(folder.parent / "stdout.txt", "w+b") as out,
        open(folder.parent / "stderr.txt", "w+b") as err,
    ):
        process = subprocess.Popen([*command, str(folder)], stdout=out, stderr=err, env=env)
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            trace.sample(process.pid)
            time.sleep(0.02)
        if process.poll() is None:
            process.kill()
        returncode = process.wait()
        out.seek(0)
        err.seek(0)
        return returncode, out.read().decode(), err.read().decode(), trace


@pytest.mark.slow
@ONE_CLI_RUN
def test_cli_prints_each_hostile_file_with_its_documented_code(
    cli_run: tuple[int, str, str, RssTrace],
) -> None:
    _, stdout, _, _ = cli_run
    lines = [json.loads(line) for line in stdout.splitlines()]
    got = {Path(line["path"]).name: line for line in lines}
    assert len(lines) == len(CASES)
    for case in CASES:
        line = got[case.name]
        if case.expect == HASH:
            assert len(line["signals"]["pdq"]["hash"]) == 64, case.name
        else:
            assert line["error"]["code"] == case.expect, (case.name, line["error"])
            assert line["signals"]["sha256"] == hashlib.sha256(case.data).hexdigest()


@pytest.mark.slow
@ONE_CLI_RUN
def test_cli_exits_1_when_some_files_fail(cli_run: tuple[int, str, str, RssTrace]) -> None:
    assert cli_run[0] == 1


@pytest.mark.slow
@ONE_CLI_RUN
def test_cli_prints_no_traceback(cli_run: tuple[int, str, str, RssTrace]) -> None:
    _, stdout, stderr, _ = cli_run
    assert "Traceback" not in stderr
    assert "Traceback" not in stdout


@pytest.mark.slow
@ONE_CLI_RUN
def test_cli_run_with_its_workers_stays_under_512_mb(
    cli_run: tuple[int, str, str, RssTrace],
) -> None:
    trace = cli_run[3]
    # The parent and two workers were seen, so the sum below measures the whole run.
    assert len(trace.processes) >= 3
    assert trace.peak_single < RSS_LIMIT_BYTES
    assert trace.peak_sum < RSS_LIMIT_BYTES, f"{trace.peak_sum >> 20} MiB at peak"
