"""`tutela scan`'s fetched sources: http(s) URLs in list files and s3://bucket/prefix of
S3-compatible storage, read within the limits with a typed error per file, requests to the store
signed with Signature Version 4 (checked against AWS's published examples and by an in-test
store that verifies every signature with its own code); a video among them streamed to the spool
within the video limit."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from file_servers import ACCESS_KEY, REGION, SECRET_KEY, s3_store, serving, web_files
from provider_fixtures import TUTELA, drawn_image, edited_copy, jpeg, make_bank, node_env
from tutela.db.database import open_database
from tutela.detection.object_storage import S3Client, S3Config, S3Location, S3Object, sign
from tutela.detection.scan_sources import Shard, Sources, look_at
from tutela.detection.source_files import SourceAccess, SourceReader, SpooledVideo
from tutela.errors import ConfigurationError, InvalidInput, TutelaError
from tutela.media.limits import MediaLimits
from tutela.messaging.http import open_client
from tutela.settings import Settings
from video_files import picture, still_video

LIMITS = MediaLimits(max_bytes=1024 * 1024)
AWS_EXAMPLE = S3Config(
    None, "us-east-1", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)


def store_config(endpoint: str, secret: str = SECRET_KEY) -> S3Config:
    return S3Config(endpoint, REGION, ACCESS_KEY, secret)


def access(
    *, allow_private: bool = True, timeout_s: float = 10.0, s3: S3Config | None = None
) -> SourceAccess:
    return SourceAccess(allow_private, timeout_s, s3 or store_config("http://unused"))


def error_code(reader: SourceReader, url: str, size: int = -1) -> str:
    with pytest.raises(TutelaError) as raised:
        reader.read(url, size, LIMITS)
    return raised.value.code


def test_signatures_match_aws_published_examples() -> None:
    # docs.aws.amazon.com AmazonS3 sig-v4-header-based-auth: "GET Object" and "List Objects".
    at = datetime(2013, 5, 24, tzinfo=UTC)
    host = "examplebucket.s3.amazonaws.com"
    get = sign(
        method="GET",
        host=host,
        path="/test.txt",
        query={},
        headers={"Range": "bytes=0-9"},
        config=AWS_EXAMPLE,
        now=at,
    )
    assert get["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    listing = sign(
        method="GET",
        host=host,
        path="/",
        query={"max-keys": "2", "prefix": "J"},
        headers={},
        config=AWS_EXAMPLE,
        now=at,
    )
    assert listing["Authorization"].endswith(
        "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
    )
    with pytest.raises(ConfigurationError):
        sign(
            method="GET",
            host=host,
            path="/",
            query={},
            headers={},
            config=S3Config(None, "us-east-1", None, None),
            now=at,
        )


def test_a_prefix_is_listed_page_by_page_and_its_objects_read_with_checked_signatures() -> None:
    objects = {
        "backlog/a.jpg": b"A",
        "backlog/sub/b c.jpg": b"BB",
        "backlog/ü+%.jpg": b"CCC",
        "backlog/dir/": b"",
        "other/x.jpg": b"X",
    }
    with serving(s3_store({"media": objects}, page=2)) as endpoint, open_client() as client:
        store = S3Client(store_config(endpoint), client)
        pages = list(store.list_objects(S3Location.parse("s3://media/backlog/")))
        assert len(pages) >= 2  # two keys a page: the continuation token is followed
        found = {o.location.key: (o.size, o.etag) for page in pages for o in page}
        assert set(found) == {"backlog/a.jpg", "backlog/sub/b c.jpg", "backlog/ü+%.jpg"}
        assert found["backlog/sub/b c.jpg"][0] == 2
        sources = Sources.of(["s3://media/backlog/"])
        listed = [f for page in sources.objects(store) for f in page]
        with SourceReader(access(s3=store_config(endpoint)), storage=client) as reader:
            for f in listed:
                assert f.key.startswith(f"scan:{f.path}:") and f.size > 0
                data = reader.read(f.path, f.size, LIMITS)
                assert data == objects[S3Location.parse(f.path).key]
            assert error_code(reader, "s3://media/backlog/gone.jpg") == "unreadable"
            assert error_code(reader, "s3://media/backlog/a.jpg", size=LIMITS.max_bytes + 1) == (
                "too_large"
            )
        wrong = S3Client(store_config(endpoint, secret="not-the-secret"), client)
        with pytest.raises(ConfigurationError, match=r"403 \(SignatureDoesNotMatch"):
            list(wrong.list_objects(S3Location.parse("s3://media/")))
        with pytest.raises(ConfigurationError, match="NoSuchBucket"):
            list(store.list_objects(S3Location.parse("s3://nothing/")))


def test_urls_are_fetched_within_the_limits_with_a_typed_error_each() -> None:
    image = jpeg(drawn_image(3))
    handler = web_files({"/a.jpg": image}, big=2 * LIMITS.max_bytes)
    # A generous time limit (a loaded machine starves the server's threads), but a short one for
    # the server that trickles a byte every half second for 50 s.
    with serving(handler) as base, SourceReader(access(timeout_s=60.0)) as reader:
        assert reader.read(f"{base}/a.jpg", -1, LIMITS) == image
        assert error_code(reader, f"{base}/missing.jpg") == "unreadable"
        assert error_code(reader, f"{base}/redirect") == "unreadable"  # never followed
        assert error_code(reader, f"{base}/big") == "too_large"  # cut off while streaming
        assert error_code(reader, f"{base}/big-declared") == "too_large"
        assert error_code(reader, "http://127.0.0.1:1/a.jpg") == "unreadable"
        assert error_code(reader, "ftp://example.org/a.jpg") == "not_supported"
        with SourceReader(access(timeout_s=3.0)) as impatient:
            assert error_code(impatient, f"{base}/slow") == "timeout"
    assert set(handler.encodings) == {"identity"}  # type: ignore[attr-defined]


def test_urls_at_private_addresses_are_refused_unless_allowed() -> None:
    with (
        serving(web_files({"/a.jpg": b"x"})) as base,
        SourceReader(access(allow_private=False)) as reader,
    ):
        assert error_code(reader, f"{base}/a.jpg") == "refused_target"
        with pytest.raises(TutelaError, match="TUTELA_SCAN_ALLOW_PRIVATE"):
            reader.read(f"{base}/a.jpg", -1, LIMITS)
        assert error_code(reader, "http://localhost/a.jpg") == "refused_target"
        assert error_code(reader, "http://169.254.169.254/latest/meta-data") == "refused_target"


def test_listed_urls_are_items_by_their_url(tmp_path: Path) -> None:
    listed = look_at("https://files.example/a.jpg")
    assert (listed.key, listed.size, listed.error) == ("scan:https://files.example/a.jpg", -1, None)
    s3 = look_at("s3://media/x.jpg")
    assert s3.key == "scan:s3://media/x.jpg"
    with pytest.raises(InvalidInput):
        Sources.of(["s3://"])
    assert Sources.of(["s3://media/pre"]).prefixes == (S3Location("media", "pre"),)
    assert "tutela/test" not in repr(store_config("http://store"))  # the secret stays out of logs


def test_a_presigned_urls_signature_and_credentials_stay_out_of_its_item_id() -> None:
    signed = "https://files.example/a.jpg?X-Amz-Signature=cafe&X-Amz-Credential=AKIDEXAMPLE"
    other = "https://files.example/a.jpg?X-Amz-Signature=beef&X-Amz-Credential=AKIDEXAMPLE"
    key = look_at(signed).key
    assert key.startswith("scan:https://files.example/a.jpg#")
    assert "cafe" not in key and "AKIDEXAMPLE" not in key
    assert look_at(other).key != key and look_at(signed).key == key
    with_user = look_at("https://user:secret@files.example:8443/a.jpg").key
    assert with_user.startswith("scan:https://files.example:8443/a.jpg#")
    assert "secret" not in with_user and "user" not in with_user


@pytest.fixture
def servers() -> Iterator[tuple[str, str, dict[str, bytes]]]:
    copy = edited_copy(drawn_image(0), "resize")
    files = {
        "/copy.jpg": copy,
        "/plain.jpg": jpeg(drawn_image(11)),
        "/text.jpg": b"not an image at all",
    }
    bucket = {
        "scan/copy.png": edited_copy(drawn_image(0), "flip"),
        "scan/plain 1.jpg": jpeg(drawn_image(12)),
        "scan/plain2.jpg": jpeg(drawn_image(13)),
    }
    with (
        serving(web_files(files, big=4 * 1024 * 1024)) as web,
        serving(s3_store({"media": bucket})) as endpoint,
    ):
        yield web, endpoint, files


def run_scan(
    settings: Settings, endpoint: str, *args: str, secret: str = SECRET_KEY
) -> subprocess.CompletedProcess[str]:
    env = node_env(
        settings,
        TUTELA_SCAN_ALLOW_PRIVATE="1",
        TUTELA_MAX_FILE_BYTES=str(2 * 1024 * 1024),
        TUTELA_S3_ENDPOINT_URL=endpoint,
        TUTELA_S3_REGION=REGION,
        TUTELA_S3_ACCESS_KEY_ID=ACCESS_KEY,
        TUTELA_S3_SECRET_ACCESS_KEY=secret,
    )
    return subprocess.run(
        [TUTELA, "scan", "--json", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_scan_of_urls_and_an_s3_prefix_gives_each_one_verdict_and_a_rerun_skips_them(
    settings: Settings, servers: tuple[str, str, dict[str, bytes]], tmp_path: Path
) -> None:
    web, endpoint, _ = servers
    database = open_database(settings)
    make_bank(database, "known", [drawn_image(0)])
    database.close()
    local = tmp_path / "local.jpg"
    local.write_bytes(jpeg(drawn_image(14)))
    listing = tmp_path / "list.txt"
    names = ["copy.jpg", "plain.jpg", "text.jpg", "big", "missing.jpg"]
    listing.write_text("\n".join([str(local), *(f"{web}/{n}" for n in names)]) + "\n")

    done = run_scan(settings, endpoint, str(listing), "s3://media/scan/")
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    summary = lines[-1]
    by_path = {str(line["path"]).rsplit("/", 1)[-1]: line for line in lines[:-1]}
    verdict = {
        name: (line["error"] or {}).get("code") or line["verdict"] for name, line in by_path.items()
    }
    assert verdict == {
        "local.jpg": "no_match",
        "copy.jpg": "review",
        "plain.jpg": "no_match",
        "text.jpg": "unsupported_format",
        "big": "too_large",
        "missing.jpg": "unreadable",
        "copy.png": "review",
        "plain%201.jpg": "no_match",
        "plain2.jpg": "no_match",
    }
    assert by_path["copy.png"]["case_id"] is not None
    assert summary == {
        "summary": {"no_match": 4, "review": 2, "action": 0, "error": 3},
        "skipped": 0,
    }

    again = run_scan(settings, endpoint, str(listing), "s3://media/scan/")
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = [json.loads(line) for line in again.stdout.splitlines()]
    assert rerun[-1]["skipped"] == 9
    assert all(line["skipped"] for line in rerun[:-1])


def test_a_store_refusing_the_listing_stops_the_scan_with_a_clear_error(
    settings: Settings, servers: tuple[str, str, dict[str, bytes]]
) -> None:
    _, endpoint, _ = servers
    done = run_scan(settings, endpoint, "s3://media/scan/", secret="wrong")
    assert done.returncode != 0
    assert "SignatureDoesNotMatch" in done.stderr
    assert "Traceback" not in done.stderr


def test_http_client_names_no_body_in_errors() -> None:
    # A failing download's message names the status, never what the server sent.
    with serving(web_files({})) as base, SourceReader(access()) as reader:
        with pytest.raises(TutelaError) as raised:
            reader.read(f"{base}/missing.jpg", -1, LIMITS)
        assert "not here" not in raised.value.message
        assert "404" in raised.value.message


def test_a_fetched_video_streams_to_the_spool_within_the_video_limit(tmp_path: Path) -> None:
    movie = still_video(tmp_path / "a.mp4", picture(1), 2).read_bytes()
    image = jpeg(drawn_image(3))
    spool = tmp_path / "spool"
    roomy = MediaLimits(max_bytes=len(image) + 1, max_video_bytes=len(movie) + 1)
    tight = MediaLimits(max_bytes=len(movie) * 2, max_video_bytes=len(movie) - 1)
    with (
        serving(web_files({"/a.mp4": movie, "/b.jpg": image})) as base,
        SourceReader(access()) as reader,
    ):
        fetched = reader.fetch(f"{base}/a.mp4", -1, roomy, spool)
        assert isinstance(fetched, SpooledVideo) and fetched.temporary
        assert fetched.path.parent == spool and fetched.path.read_bytes() == movie
        fetched.discard()
        assert not fetched.path.exists()
        # An image is read into memory within its own limit, a spool or not.
        assert reader.fetch(f"{base}/b.jpg", -1, roomy, spool) == image
        with pytest.raises(TutelaError) as raised:
            reader.fetch(f"{base}/a.mp4", -1, tight, spool)
        assert raised.value.code == "too_large" and "video" in str(raised.value)
        # Without a spool (`read`), a video is read as any file is, within max_bytes.
        with pytest.raises(TutelaError, match="over the limit"):
            reader.read(f"{base}/a.mp4", -1, MediaLimits(max_bytes=len(movie) - 1))
        assert list(spool.iterdir()) == []  # the refused download left nothing behind
        local = reader.fetch(str(tmp_path / "a.mp4"), len(movie), roomy, spool)
        assert local == SpooledVideo(tmp_path / "a.mp4", temporary=False)  # hashed where it lies


class _Listing:
    """A store's listing, two pages, for Sources.objects."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def list_objects(self, prefix: S3Location) -> Iterator[list[S3Object]]:
        found = [S3Object(S3Location(prefix.bucket, key), 10, f'"{key}"') for key in self.keys]
        yield found[:50]
        yield found[50:]


def test_shares_of_a_scan_split_directories_list_files_and_prefixes_between_them(
    tmp_path: Path,
) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(40):
            (tmp_path / name / f"{i}.jpg").write_bytes(b"x")
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"https://example.org/{i}.jpg\n" for i in range(60)))
    store = _Listing([f"scan/{i}.jpg" for i in range(100)])
    paths = [str(tmp_path / "a"), str(tmp_path / "b"), str(listing), "s3://media/scan/"]

    def share(k: int, n: int) -> tuple[list[str], list[str]]:
        sources = Sources.of(paths, shard=Shard.parse(f"{k}/{n}"))
        objects = [listed.path for page in sources.objects(store) for listed in page]  # type: ignore[arg-type]
        return list(sources.lines()), objects

    whole_lines, whole_objects = share(1, 1)
    assert len(whole_lines) == 140 and len(whole_objects) == 100
    parts = [share(k, 3) for k in (1, 2, 3)]
    for column, whole in ((0, whole_lines), (1, whole_objects)):
        split = [part[column] for part in parts]
        assert all(split)  # ~1/3 each; each share non-empty
        assert sorted(x for part in split for x in part) == sorted(whole)  # disjoint, complete
    assert share(2, 3) == parts[1]  # the same share every time
    # The same files however the sources spell them: relative, with a dot, in a list file.
    spelt = tmp_path / "spelt.txt"
    spelt.write_text("".join(f"{p}\n" for p in sorted((tmp_path / "a").iterdir())))
    for k in (1, 2, 3):
        shard = Shard.parse(f"{k}/3")
        absolute = Sources.of([str(tmp_path / "a")], shard=shard)
        assert list(Sources.of([spelt], shard=shard).lines()) == sorted(absolute.lines())
        relative = [os.path.relpath(p, tmp_path) for p in absolute.lines()]
        assert all(shard.holds(f"./{p}", str(tmp_path)) for p in relative)


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "3", "1/3/1", "one/3", " 1/3", "1/-3"])
def test_a_share_is_k_of_n(text: str) -> None:
    with pytest.raises(InvalidInput, match="--shard"):
        Shard.parse(text)
