"""The command line's paths: ``-`` is standard input or output, as a binary stream."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Any

import click


def input_source(path: Path) -> Path | IO[bytes]:
    """`path`, or the binary standard input for ``-``."""
    if str(path) == "-":
        return _standard_stream(sys.stdin, "read standard input")
    return path


def output_destination(path: Path) -> Path | IO[bytes]:
    """`path`, or the binary standard output for ``-``."""
    if str(path) == "-":
        return _standard_stream(sys.stdout, "write standard output")
    return path


def _standard_stream(stream: Any, doing: str) -> IO[bytes]:
    """The binary side of sys.stdin or sys.stdout, or a clear error if it is closed."""
    binary: IO[bytes] | None = getattr(stream, "buffer", None)
    if binary is None:
        raise click.ClickException(f"cannot {doing}: it is closed")
    if stream is sys.stdout:
        stream.flush()  # text written before, if any, goes first
    return binary
