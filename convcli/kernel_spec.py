"""What ``-k SPEC`` means: one documented order, so that every spec has exactly one reading.

1. A built-in name (``vertical``), an operator (``sobel``) or a parametric family with its
   arguments (``gaussian:1.4``) is the built-in, even if a file of that name exists: write
   ``./vertical`` for the file.
2. Otherwise an existing path is a kernel file (:func:`~convcli.kernel_formats.read_kernel_file`).
3. Otherwise the text is an inline matrix (``"1,0,-1; 2,0,-2; 1,0,-1"`` or ImageMagick's
   ``"3x3: ..."``).
4. If it is none of these, the error names the closest built-in names.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import TypeAlias

from convcli.errors import KernelError, UnknownKernelError
from convcli.kernel_formats import parse_inline, read_kernel_file
from convcli.kernels import KERNELS, OPERATORS, Kernel, Operator
from convcli.parametric import FAMILIES

Step: TypeAlias = Kernel | Operator
"""One step of a chain: a kernel, or an operator such as ``sobel``."""

KERNEL_FILE_SUFFIXES = frozenset({".txt", ".csv", ".tsv", ".mat", ".json", ".npy"})

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_FAMILY_CALL = re.compile(r"([A-Za-z][A-Za-z0-9_-]*):(.*)", re.S)
_IMAGEMAGICK_SIZE = re.compile(r"[0-9]+(?:x[0-9]+)?")


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
    path = Path(spec)
    if spec and path.exists():
        return read_kernel_file(path)
    if path.suffix.lower() in KERNEL_FILE_SUFFIXES:
        raise KernelError(f"kernel file {spec!r} does not exist")
    if _NAME.fullmatch(text):
        raise UnknownKernelError(text, _closest(text))
    if call is not None and not _IMAGEMAGICK_SIZE.fullmatch(call.group(1)):
        raise UnknownKernelError(text, _closest(f"{call.group(1)}:"))
    if not text:
        raise KernelError("the kernel spec is empty")
    try:
        return parse_inline(text)
    except KernelError as error:
        if os.sep in spec:  # "1/9 1/9" is a matrix, "kernels/edges" a path: say both
            raise KernelError(
                f"no kernel file {spec!r}, and not an inline matrix either: {error}"
            ) from None
        raise


def _closest(name: str) -> tuple[str, ...]:
    return tuple(difflib.get_close_matches(name, builtin_names(), n=3, cutoff=0.6))
