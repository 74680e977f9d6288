"""Where images come from and go to: paths and the standard streams, inputs that can be read
only once, and writes that never lose a file.

Outputs are written atomically: to a temporary file beside the destination, renamed over it
only once complete, so a failed or interrupted run never leaves a partial file and never
destroys an existing one. Standard output gets the encoded bytes in one piece, after success.
"""

from __future__ import annotations

import io
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from convcli.errors import ImageWriteError

STDIN_NAME = "-"
"""How standard input is named, on the command line and in messages."""
STDOUT_NAME = "-"
"""How standard output is named, on the command line and in messages."""


@dataclass(frozen=True)
class Job:
    """One input and the output it is written to: paths, or for a single file the standard
    streams (``-``)."""

    source: Path | IO[bytes]
    destination: Path | IO[bytes]
    source_name: str = STDIN_NAME
    """How a stream `source` is named: ``-``, or the named pipe it was read from."""

    def names(self) -> tuple[str, str]:
        """The input and output as records and messages name them."""
        return _name(self.source, self.source_name), _name(self.destination, STDOUT_NAME)


def with_input_kept(job: Job) -> tuple[Job, Path | bytes]:
    """`job` made to read its input from memory where reading it would use it up (standard
    input, a named pipe), and that input for another reader: its bytes, or its path."""
    source = job.source
    if not isinstance(source, Path):
        data = source.read()
        return replace(job, source=io.BytesIO(data)), data
    if read_once(source):
        kept = bytes_or_path(source)
        if isinstance(kept, bytes):
            return replace(job, source=io.BytesIO(kept), source_name=job.names()[0]), kept
    return job, source


def read_once(path: Path) -> bool:
    """Whether `path` is a named pipe or a device: what a second read would not find again."""
    return path.exists() and not path.is_file() and not path.is_dir()


def bytes_or_path(path: Path) -> Path | bytes:
    """The bytes at `path`, or `path` itself when they cannot be read: then the reader that
    opens it says why, in the words it uses for every file."""
    try:
        return path.read_bytes()
    except OSError:
        return path


def _name(stream_or_path: Path | IO[bytes], stream_name: str) -> str:
    return str(stream_or_path) if isinstance(stream_or_path, Path) else stream_name


def check_destination(path: Path) -> None:
    """Fail early, before any work, if `path` cannot be written: a missing directory, say.

    Raises
    ------
    ImageWriteError
        If the directory is missing, not a directory or not writable, or `path` is a
        directory.
    """
    where = repr(str(path))
    target = _final_target(path)
    directory = target.parent
    if not directory.exists():
        raise ImageWriteError(f"cannot write {where}: directory {str(directory)!r} does not exist")
    if not directory.is_dir():
        raise ImageWriteError(f"cannot write {where}: {str(directory)!r} is not a directory")
    if path.is_dir():
        raise ImageWriteError(f"cannot write {where}: it is a directory")
    if _is_special(target):
        if not os.access(target, os.W_OK):
            raise ImageWriteError(f"cannot write {where}: permission denied")
    elif not os.access(directory, os.W_OK):
        raise ImageWriteError(f"cannot write {where}: directory {str(directory)!r} is not writable")


def write_output(destination: Path | IO[bytes], write: Callable[[IO[bytes]], object]) -> None:
    """Call `write` on `destination`: a path (see :func:`write_file`), or a stream (standard
    output), which receives everything in one write once `write` has succeeded in memory."""
    if isinstance(destination, Path):
        write_file(destination, write)
        return
    buffer = io.BytesIO()
    write(buffer)
    write_stream(destination, buffer.getvalue())


def write_file(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call `write` on `path`: atomically on a file (see :func:`write_atomically`), straight
    into a device or a FIFO (``/dev/null``, a named pipe), which must not be replaced."""
    if _is_special(_final_target(path)):
        where = repr(str(path))
        check_destination(path)
        try:
            with path.open("wb") as stream:
                write(stream)
        except OSError as error:
            raise ImageWriteError(f"cannot write {where}: {error.strerror or error}") from None
        return
    write_atomically(path, write)


def write_stream(stream: IO[bytes], data: bytes) -> None:
    """Write `data` to a stream (standard output) in one piece.

    Raises
    ------
    ImageWriteError
        If the stream fails: the reader closed the pipe, the disk is full.
    """
    try:
        remaining = memoryview(data)
        while remaining:  # an unbuffered stream may take only part of it
            written = stream.write(remaining)
            remaining = remaining[written if written is not None else len(remaining) :]
        stream.flush()
    except BrokenPipeError:
        _discard_further_output(stream)
        raise ImageWriteError("cannot write '-': the reader closed the pipe") from None
    except OSError as error:
        raise ImageWriteError(f"cannot write '-': {error.strerror or error}") from None


def write_atomically(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call `write` on a temporary file beside `path`, then rename it to `path`.

    The rename is atomic on POSIX file systems: readers see the old file or the new one, never
    a partial one. A new file gets the usual permissions (0666 minus the umask); a replaced
    file keeps its own. If `path` is a symbolic link, the file it points to is replaced and
    the link kept, as writing through it would do. A file with several hard links gets a new
    inode: the other names keep the old content (as with ``sed -i``).
    """
    where = repr(str(path))
    check_destination(path)
    target = _final_target(path)
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
    except OSError as error:
        raise ImageWriteError(f"cannot write {where}: {error.strerror or error}") from None
    try:
        os.close(fd)  # opened again by name: writers that need a named file get one (tifffile)
        with Path(temporary).open("wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).chmod(_permissions_for(target))
        Path(temporary).replace(target)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise ImageWriteError(f"cannot write {where}: {error.strerror or error}") from None
        raise


def remove_left_temporaries(destinations: Iterable[Path]) -> int:
    """Remove the temporary files that writers of `destinations` left beside them when killed
    mid-write (``.NAME.XXXXXXXX.tmp``, as :func:`write_atomically` names them), reading each
    folder once; to be run when no writer of them can still be running. Returns how many.

    A process killed by SIGKILL (a worker out of memory) cannot delete its temporary file;
    whoever ran it knows when its files are all written again.
    """
    names_by_folder: dict[Path, set[str]] = {}
    for path in destinations:
        target = _final_target(path)
        names_by_folder.setdefault(target.parent, set()).add(target.name)
    removed = 0
    for folder, names in names_by_folder.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if not (name.startswith(".") and name.endswith(".tmp")):
                continue
            written = name[1:-4].rpartition(".")[0]  # ".NAME.XXXXXXXX.tmp" -> NAME
            if written in names:
                try:
                    Path(entry.path).unlink()
                except OSError:
                    continue
                removed += 1
    return removed


def same_file(first: Path, second: Path) -> bool:
    """Whether two paths name one file (through links too); False if either does not exist."""
    try:
        return first.samefile(second)
    except OSError:
        return False


def _permissions_for(path: Path) -> int:
    """The mode bits for a file written at `path`: its own if it exists, else 0666 - umask."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _discard_further_output(stream: IO[bytes]) -> None:
    """Point a broken stream at /dev/null, so that flushing it at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # not a real file descriptor (a test's stream): nothing will flush it


def _is_special(path: Path) -> bool:
    """Whether `path` exists and is not a regular file: a device, a FIFO, a socket."""
    try:
        return not stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _final_target(path: Path) -> Path:
    """`path` with symbolic links followed, even to a file that does not exist yet."""
    return Path(os.path.realpath(path))
