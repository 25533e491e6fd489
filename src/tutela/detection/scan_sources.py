"""What a backlog scan reads: sources (directories, list files of paths or URLs, prefixes of
S3-compatible storage) and the files they name, each with the item id it is scanned as.

A local file's item id is `scan_key` (its absolute path, size and
modification time), whether the local cores or a Ray cluster scan it, so a file scanned one way is
skipped by the other. A listed URL (http(s):// or s3://bucket/key) is the item `scan:URL`: a re-run
skips it however its content changed; a URL's query and user information (a presigned URL's
signature, a token) never enter the id: they are replaced by a digest of the whole URL
(`url_key`). An object under an s3:// prefix is `scan:s3://bucket/key:
size:etag`: a changed object is a new item. A line naming a file that cannot be read (gone, not
allowed, another URL scheme) is still an item, with an error verdict: its id is the path alone, so
a re-run skips it as well; a URL is read only when it is hashed (tutela.detection.source_files).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from tutela.detection.object_storage import S3Client, S3Location, S3Object
from tutela.detection.source_files import is_url
from tutela.errors import InvalidInput, NotSupported, TutelaError, Unreadable


@dataclass(frozen=True, slots=True)
class ListedFile:
    """One line of a listing, looked at: the file's path, its item id and size, or (a line that
    names nothing readable) the error it gets as its verdict."""

    path: str
    key: str
    # -1: not known before the file is fetched (a listed URL).
    size: int = 0
    error: dict[str, str] | None = None


def scan_key(path: str) -> str:
    """The item id of a local file: the same file unchanged is the same item."""
    stat = os.stat(path)
    return f"scan:{os.path.abspath(path)}:{stat.st_size}:{stat.st_mtime_ns}"


def path_of(line: str) -> str:
    """The local path a listing line names: a path as it is, or a file:// URL's path. Another
    scheme raises NotSupported (URLs that are fetched are told apart first: `is_url`)."""
    if "://" not in line:
        return line
    parts = urlsplit(line)
    if parts.scheme.lower() != "file":
        raise NotSupported(
            f"{parts.scheme}:// sources are not supported; give paths, file://, http(s):// "
            "or s3:// URLs"
        )
    if parts.netloc not in ("", "localhost"):
        raise NotSupported("file:// URLs of another host are not supported")
    return unquote(parts.path)


def look_at(line: str, cwd: str | None = None) -> ListedFile:
    """The listed file of one line (stat only; nothing is read); a relative path is taken from
    `cwd` (the scanning command's directory, not a Ray worker's), by default this process's. A URL
    to fetch is not looked at here: its size is not known (-1)."""
    if is_url(line):
        return ListedFile(line, url_key(line), -1)
    try:
        path = os.path.join(cwd or os.getcwd(), path_of(line))
    except TutelaError as error:
        return ListedFile(line, f"scan:{line}", error=error.as_dict())
    try:
        key = scan_key(path)
        size = os.path.getsize(path)
        if not os.path.isfile(path):
            raise IsADirectoryError(21, "not a regular file")
    except OSError as error:
        unreadable = Unreadable(f"cannot read the file: {error.strerror or 'error'}")
        return ListedFile(path, f"scan:{os.path.abspath(path)}", error=unreadable.as_dict())
    return ListedFile(path, key, size)


def url_key(url: str) -> str:
    """The item id of a listed URL: `scan:URL`, but a URL with a query or user information (which
    may carry a signature or a token) is kept only up to its path, followed by `#` and a digest of
    the whole URL, so that the id still tells apart two URLs that differ only there."""
    parts = urlsplit(url)
    if not parts.query and "@" not in parts.netloc:
        return f"scan:{url}"
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    digest = hashlib.sha256(url.encode()).hexdigest()[:32]
    return f"scan:{parts.scheme}://{host}{parts.path}#{digest}"


def walk(directory: Path) -> Iterator[str]:
    """Every file under `directory`, recursively, in a stable order."""
    for root, dirs, names in os.walk(directory):
        dirs.sort()
        for name in sorted(names):
            yield os.path.join(root, name)


def list_lines(list_file: Path) -> Iterator[str]:
    """The non-blank lines of a list file, stripped; InvalidInput for one that is not text."""
    try:
        with open(list_file, encoding="utf-8") as lines:
            for line in lines:
                if stripped := line.strip():
                    yield stripped
    except UnicodeDecodeError:
        raise InvalidInput(f"{list_file} is not a list of paths (not UTF-8 text)") from None
    except OSError as error:
        raise Unreadable(f"cannot read {list_file}: {error.strerror}") from None


def object_key(found: S3Object) -> ListedFile:
    """The listed file of an object found under an s3:// prefix (its URL percent-encoded)."""
    url = f"s3://{found.location.bucket}/{quote(found.location.key, safe='/')}"
    return ListedFile(url, f"scan:{url}:{found.size}:{found.etag}", found.size)


@dataclass(frozen=True, slots=True)
class Shard:
    """One of `count` shares of a backlog, for one of several drivers (`tutela scan --shard
    K/N`): a file belongs to share hash(its absolute path, or its URL) mod count, so drivers given
    the same sources, however spelt, split them without talking to each other, and each file's
    item is decided by the driver whose share it is (a re-run of that share skips it)."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`K/N` (1 <= K <= N), as the command line gives it; InvalidInput otherwise."""
        first, slash, second = text.partition("/")
        if not (slash and first.isdigit() and second.isdigit()):
            raise InvalidInput(f"--shard takes K/N, e.g. 1/4 (the first of 4 shares), not {text!r}")
        k, n = int(first), int(second)
        if not 1 <= k <= n:
            raise InvalidInput(f"--shard {text}: K must be between 1 and N")
        return cls(k - 1, n)

    def holds(self, line: str, cwd: str | None = None) -> bool:
        """Whether this share scans the file a listing line (a path or URL) names; a relative
        path is taken from `cwd`, by default this process's."""
        if self.count == 1:
            return True
        name = line
        if not is_url(line):
            with contextlib.suppress(TutelaError):  # another scheme: an error verdict, by line
                name = os.path.normpath(os.path.join(cwd or os.getcwd(), path_of(line)))
        digest = hashlib.blake2b(name.encode("utf-8", "surrogateescape"), digest_size=8).digest()
        return int.from_bytes(digest, "little") % self.count == self.index


@dataclass(frozen=True, slots=True)
class Sources:
    """A scan's sources, sorted out: directories to walk, list files to read, prefixes of
    S3-compatible storage to list, and the share of their files this scan takes."""

    directories: tuple[Path, ...]
    list_files: tuple[Path, ...]
    prefixes: tuple[S3Location, ...] = ()
    shard: Shard = Shard()

    @classmethod
    def of(
        cls, paths: Iterable[str | Path], list_files: Iterable[Path] = (), shard: Shard = Shard()
    ) -> Sources:
        """A directory is walked, an s3://bucket/prefix listed, any other file is a list file
        (one path or URL a line); a source that does not exist is InvalidInput, before anything
        is scanned."""
        directories: list[Path] = []
        prefixes: list[S3Location] = []
        lists = list(list_files)
        for given in paths:
            if isinstance(given, str) and given.lower().startswith("s3://"):
                prefixes.append(S3Location.parse(given))
                continue
            source = Path(given)
            if source.is_dir():
                directories.append(source)
            elif source.is_file():
                lists.append(source)
            else:
                raise InvalidInput(f"no such directory or list file: {source}")
        for listed in lists:
            if not listed.is_file():
                raise InvalidInput(f"no such list file: {listed}")
        if not directories and not lists and not prefixes:
            raise InvalidInput("give a directory, list file or s3:// prefix to scan")
        return cls(tuple(directories), tuple(lists), tuple(prefixes), shard)

    def walked(self) -> Iterator[str]:
        """The files of this share under every directory."""
        cwd = os.getcwd()
        for directory in self.directories:
            yield from (path for path in walk(directory) if self.shard.holds(path, cwd))

    def lines(self) -> Iterator[str]:
        """The lines of this share of every directory and list file, directories first."""
        yield from self.walked()
        cwd = os.getcwd()
        for list_file in self.list_files:
            yield from (line for line in list_lines(list_file) if self.shard.holds(line, cwd))

    def objects(self, storage: S3Client) -> Iterator[list[ListedFile]]:
        """The objects of this share under every s3:// prefix, a listing page at a time."""
        for prefix in self.prefixes:
            for page in storage.list_objects(prefix):
                yield [listed for listed in map(object_key, page) if self.shard.holds(listed.path)]
