"""What a backlog scan reads: sources (directories, list files of paths or file:// URLs) and the
files they name, each with the item id it is scanned as.

A file's item id is `tutela.detection.backlog.scan_key` (its absolute path, size and modification
time), whether the local cores or a Ray cluster scan it, so a file scanned one way is skipped by
the other. A line naming a file that cannot be read (gone, not allowed, another URL scheme) is
still an item, with an error verdict: its id is the path alone, so a re-run skips it as well.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tutela.detection.backlog import scan_key
from tutela.errors import InvalidInput, NotSupported, TutelaError, Unreadable


@dataclass(frozen=True, slots=True)
class ListedFile:
    """One line of a listing, looked at: the file's path, its item id and size, or (a line that
    names nothing readable) the error it gets as its verdict."""

    path: str
    key: str
    size: int = 0
    error: dict[str, str] | None = None


def path_of(line: str) -> str:
    """The local path a listing line names: a path as it is, or a file:// URL's path. Another
    scheme raises NotSupported (http(s) sources are not read)."""
    if "://" not in line:
        return line
    parts = urlsplit(line)
    if parts.scheme.lower() != "file":
        raise NotSupported(f"{parts.scheme}:// sources are not supported; give paths or file://")
    if parts.netloc not in ("", "localhost"):
        raise NotSupported("file:// URLs of another host are not supported")
    return unquote(parts.path)


def look_at(line: str, cwd: str | None = None) -> ListedFile:
    """The listed file of one line (stat only; nothing is read); a relative path is taken from
    `cwd` (the scanning command's directory, not a Ray worker's), by default this process's."""
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


@dataclass(frozen=True, slots=True)
class Sources:
    """A scan's sources, sorted out: directories to walk, list files to read."""

    directories: tuple[Path, ...]
    list_files: tuple[Path, ...]

    @classmethod
    def of(cls, paths: Iterable[Path], list_files: Iterable[Path] = ()) -> Sources:
        """A directory is walked, any other file is a list file (one path or file:// URL a
        line); a source that does not exist is InvalidInput, before anything is scanned."""
        directories: list[Path] = []
        lists = list(list_files)
        for source in paths:
            if source.is_dir():
                directories.append(source)
            elif source.is_file():
                lists.append(source)
            else:
                raise InvalidInput(f"no such directory or list file: {source}")
        for listed in lists:
            if not listed.is_file():
                raise InvalidInput(f"no such list file: {listed}")
        if not directories and not lists:
            raise InvalidInput("give a directory or list file to scan")
        return cls(tuple(directories), tuple(lists))

    def lines(self) -> Iterator[str]:
        """Every line of every source, directories first: what the local cores scan."""
        for directory in self.directories:
            yield from walk(directory)
        for list_file in self.list_files:
            yield from list_lines(list_file)
