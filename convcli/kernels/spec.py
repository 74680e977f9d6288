"""What ``-k SPEC`` means: one documented order, so that every spec has exactly one reading.

1. A built-in name (``vertical``), an operator (``sobel``) or a parametric family with its
   arguments (``gaussian:1.4``) is the built-in, even if a file of that name exists: write
   ``./vertical`` for the file.
2. Otherwise an existing path is a kernel file (:func:`~convcli.kernels.formats.read_kernel_file`).
3. Otherwise the text is an inline matrix (``"1,0,-1; 2,0,-2; 1,0,-1"`` or ImageMagick's
   ``"3x3: ..."``).
4. If it is none of these, the error names the closest built-in names.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from convcli.errors import KernelError, UnknownKernelError, did_you_mean
from convcli.kernels.formats import is_imagemagick_string, parse_inline, read_kernel_file
from convcli.kernels.kernel import Step
from convcli.kernels.parametric import FAMILIES
from convcli.kernels.registry import KERNELS, OPERATORS, closest_names

KERNEL_FILE_SUFFIXES = frozenset({".txt", ".csv", ".tsv", ".mat", ".json", ".npy"})

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_FAMILY_CALL = re.compile(r"([A-Za-z][A-Za-z0-9_-]*):(.*)", re.S)
_FIRST_WORD = re.compile(r"\s*([A-Za-z][^\s,;]*)")
_FILE_NAME = re.compile(r"[\w.-]+\.[A-Za-z]\w*")


def builtin_names() -> list[str]:
    """Every name ``-k`` knows: kernels, operators, then families as ``name:``."""
    return [*KERNELS, *OPERATORS, *(f"{family}:" for family in FAMILIES)]


def resolve_kernel(spec: str) -> Step:
    """The kernel or operator `spec` names, in the order of this module's docstring.

    >>> resolve_kernel("sobel-x").name, resolve_kernel("gaussian:2").shape
    ('sobel-x', (13, 13))
    >>> resolve_kernel("1 2; 3 4").weights.tolist()
    [[1.0, 2.0], [3.0, 4.0]]

    Raises
    ------
    UnknownKernelError
        If `spec` looks like a name but is none, with the closest names.
    KernelError
        If the file, the family's arguments or the inline matrix are wrong; the message says
        where.
    """
    text = spec.strip()
    if text in KERNELS:
        return KERNELS[text]
    if text in OPERATORS:
        return OPERATORS[text]
    call = _FAMILY_CALL.fullmatch(text)
    if call is not None and call.group(1) in FAMILIES:
        return FAMILIES[call.group(1)].build(text, call.group(2))
    if _is_file(spec):
        return read_kernel_file(Path(spec), name=spec)
    if Path(spec).suffix.lower() in KERNEL_FILE_SUFFIXES:
        raise KernelError(f"kernel file {spec!r} does not exist")
    if _NAME.fullmatch(text):
        raise UnknownKernelError(text, _closest(text))
    if call is not None and not is_imagemagick_string(text):
        raise UnknownKernelError(text, _closest(f"{call.group(1)}:"))
    if not text:
        raise KernelError("the kernel spec is empty")
    try:
        return parse_inline(text)
    except KernelError as error:
        match = _FIRST_WORD.match(text)
        word = "" if match is None else match.group(1)
        if not word or word.lower() in {"nan", "inf", "infinity"}:
            raise  # numbers with a mistake: the parser's message says where
        # Words, not numbers: a missing file or a misspelt name, not a broken matrix.
        suggestions = _closest(word) or _closest(f"{word}:")
        if _FILE_NAME.fullmatch(text) or os.sep in text:
            raise KernelError(
                f"no kernel file {spec!r}, and it is not a built-in name or a matrix"
                f"{did_you_mean(suggestions)}"
            ) from error
        raise UnknownKernelError(text, suggestions) from error


def _is_file(spec: str) -> bool:
    """Whether `spec` names something on disk (a name too long for a path does not)."""
    try:
        return bool(spec) and Path(spec).exists()
    except (OSError, ValueError):
        return False


def _closest(name: str) -> tuple[str, ...]:
    return closest_names(name, builtin_names())
