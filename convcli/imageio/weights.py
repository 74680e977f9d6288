"""A convolution layer's weight and bias, read from ``.npy``, ``.npz`` or ``.safetensors`` files.

The weight comes out in PyTorch's layout, (C_out, C_in/groups, kh, kw); the bias is (C_out,)::

    layer = load_layer_weights(parse_weight_spec("resnet18.safetensors:conv1.weight"))

``.safetensors`` is parsed here from its published layout (huggingface/safetensors): an 8-byte
little-endian header length N, N bytes of UTF-8 JSON giving each tensor's dtype, shape and
[begin, end) byte offsets into the data that follows, then the little-endian data. Only the
bytes of the tensors asked for are read. Pickles (PyTorch's ``.pt``, ``.pth``, ...) are refused
unopened: unpickling runs whatever code a file holds. Every failure is one
:class:`~convcli.errors.WeightsError` line that names the file.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeAlias

import numpy as np
import numpy.typing as npt
from numpy.lib.npyio import NpzFile

from convcli.choices import LAYOUTS as LAYOUTS  # the axis orders a weight may be stored in
from convcli.choices import Layout as Layout
from convcli.errors import WeightsError
from convcli.imageio.npy import read_npy_header

FloatArray: TypeAlias = npt.NDArray[np.floating[Any]]

WEIGHT_SUFFIXES = (".npy", ".npz", ".safetensors")
"""The formats read, by file extension (in any case)."""

_PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".ckpt", ".bin", ".pkl", ".pickle"})
_PICKLE_OR_ZIP = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05", b"PK\x03\x04")

_AXES: dict[Layout, str] = {
    "oihw": "(C_out, C_in/groups, kh, kw)",
    "hwio": "(kh, kw, C_in/groups, C_out) in the hwio layout",
}

# safetensors dtypes as stored. BF16 is the upper half of a float32's bits, widened on reading.
_SAFETENSORS_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
    "BOOL": "?",  # read, then refused as not numbers
}  # fmt: skip

# What NumPy and zipfile raise for a damaged or unusual .npy or .npz: zipfile raises a
# RuntimeError for an encrypted member or a compression it lacks (NotImplementedError).
_READ_ERRORS = (ValueError, EOFError, RuntimeError, zipfile.BadZipFile, zlib.error)


@dataclass(frozen=True)
class WeightSpec:
    """A weights file and the tensor to read from it."""

    path: Path
    name: str | None
    """The tensor's name inside an ``.npz`` or ``.safetensors``; None to let the file decide."""


@dataclass(frozen=True)
class TensorInfo:
    """A tensor in a file, as its header describes it (nothing of its data is read)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    """As the file names it: ``"F32"``, ``"BF16"`` (safetensors), ``"float32"`` (NumPy)."""


@dataclass(frozen=True, eq=False)
class LayerWeights:
    """A convolution layer's parameters, finite, in PyTorch's layout."""

    weight: FloatArray
    """(C_out, C_in/groups, kh, kw), float32 or float64."""
    bias: FloatArray | None
    """(C_out,), or None; its length is not checked against the weight's here."""
    weight_name: str
    """What the weight was called: ``"conv1.weight"``, or the ``.npy`` file's name."""
    bias_name: str | None


def parse_weight_spec(text: str) -> WeightSpec:
    """``FILE`` or ``FILE:NAME``: a weights file, and the tensor inside it.

    The text is split at its last colon only when what comes before ends with a known
    extension (:data:`WEIGHT_SUFFIXES`), so a path may hold colons of its own.

    >>> spec = parse_weight_spec("resnet18.safetensors:layer1.0.conv1.weight")
    >>> str(spec.path), spec.name
    ('resnet18.safetensors', 'layer1.0.conv1.weight')
    >>> parse_weight_spec("runs/12:30/w.npy").name is None
    True
    """
    if not text:
        raise WeightsError("no weights file given: expected FILE or FILE:NAME")
    head, colon, name = text.rpartition(":")
    if not (colon and head.lower().endswith(WEIGHT_SUFFIXES)):
        return WeightSpec(Path(text), None)
    if not name:
        raise WeightsError(f"no tensor name after the colon in {text!r}: give FILE:NAME or FILE")
    return WeightSpec(Path(head), name)


def list_tensors(path: Path) -> list[TensorInfo]:
    """Every tensor in a weights file, in the file's order; an ``.npy`` holds one, named after
    the file's stem. Only headers are read.

    Raises
    ------
    WeightsError
        The file cannot be read, is malformed, is a pickle or is of no known format.
    """
    with _opened(path) as tensors:
        return list(tensors.infos)


def load_layer_weights(
    spec: WeightSpec, *, bias: WeightSpec | None = None, layout: Layout = "oihw"
) -> LayerWeights:
    """Read a convolution layer's weight, and its bias, for ``conv2d``.

    Parameters
    ----------
    spec
        The weight. Without a name: an ``.npy``'s array, or the file's only tensor, or else
        its only 4-D one.
    bias
        A 1-D bias. Without it, ``NAME.bias`` beside a weight ``NAME.weight``, if it is 1-D.
    layout
        The stored weight's axes: ``"oihw"`` (PyTorch) or ``"hwio"`` (Keras, TensorFlow:
        kh, kw, C_in, C_out), which is transposed.

    Returns
    -------
    LayerWeights
        Float16, bfloat16 and integers of up to 16 bits as float32; float64 and wider
        integers as float64.

    Raises
    ------
    WeightsError
        A file is unreadable, malformed or a pickle; a tensor is missing, ambiguous, not
        numbers or not finite; the weight is not 4-D or the bias not 1-D.
    """
    if layout not in LAYOUTS:
        raise WeightsError(f"unknown weight layout {layout!r}: expected one of {LAYOUTS}")
    bias_values: FloatArray | None = None
    bias_name: str | None = None
    with _opened(spec.path) as tensors:
        info = _choose(tensors, spec.name, ndim=4, role="weight")
        weight = _as_weight(_read(tensors, info), info, tensors.label, layout)
        weight_name = _called(spec.path, tensors, info)
        paired = None if bias is not None else _paired_bias(tensors.infos, info.name)
        if paired is not None:
            bias_values = _as_bias(_read(tensors, paired), paired, tensors.label)
            bias_name = paired.name
    if bias is not None:
        with _opened(bias.path) as tensors:
            chosen = _choose(tensors, bias.name, ndim=1, role="bias")
            bias_values = _as_bias(_read(tensors, chosen), chosen, tensors.label)
            bias_name = _called(bias.path, tensors, chosen)
    return LayerWeights(weight, bias_values, weight_name, bias_name)


def _choose(tensors: _TensorFile, name: str | None, *, ndim: int, role: str) -> TensorInfo:
    """The tensor called `name`; without a name, the file's only tensor or its only one of
    `ndim` dimensions."""
    infos, label = tensors.infos, tensors.label
    if name is not None:
        for info in infos:
            if info.name == name:
                return info
        raise WeightsError(f"no tensor {name!r} in {label}; {_names_in(infos)}")
    if len(infos) == 1:
        return infos[0]
    fitting = [info for info in infos if len(info.shape) == ndim]
    if len(fitting) == 1:
        return fitting[0]
    if not fitting:
        raise WeightsError(f"{label} holds no {ndim}-D tensor for the {role}; {_names_in(infos)}")
    raise WeightsError(
        f"{label} holds {len(fitting)} {ndim}-D tensors, {_listed([i.name for i in fitting])};"
        f" pick the {role} with {label}:NAME"
    )


def _called(path: Path, tensors: _TensorFile, info: TensorInfo) -> str:
    """What a tensor is called for people: its name, or an ``.npy`` file's name."""
    return path.name if isinstance(tensors, _Npy) else info.name


def _paired_bias(infos: list[TensorInfo], weight_name: str) -> TensorInfo | None:
    """``NAME.bias`` beside ``NAME.weight`` (PyTorch's names for a layer's parameters), if 1-D."""
    if not weight_name.endswith(".weight"):
        return None
    wanted = weight_name.removesuffix(".weight") + ".bias"
    return next((i for i in infos if i.name == wanted and len(i.shape) == 1), None)


def _names_in(infos: list[TensorInfo]) -> str:
    """``"it has 'a', 'b'"``: the 4-D tensors first, then the rest in file order."""
    if not infos:
        return "it holds no tensors"
    four_d_first = sorted(infos, key=lambda info: len(info.shape) != 4)
    return "it has " + _listed([info.name for info in four_d_first])


def _listed(names: list[str], most: int = 10) -> str:
    """``"'a', 'b', 'c' and 4 more"``: at most `most` names, quoted."""
    shown = ", ".join(repr(name) for name in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _read(tensors: _TensorFile, info: TensorInfo) -> FloatArray:
    """A tensor's values as float32 or float64, in the file's axis order."""
    where = f"{info.name!r} in {tensors.label}"
    if info.dtype == "object":
        raise WeightsError(f"{where} holds Python objects, which convcli never unpickles")
    try:
        values = tensors.read(info.name)
    except WeightsError:
        raise
    except _READ_ERRORS as error:
        raise WeightsError(f"cannot read {where}: {error}") from None
    kind, size = values.dtype.kind, values.dtype.itemsize
    if kind == "f":
        return values.astype(np.float64 if size >= 8 else np.float32)
    if kind in "iu":  # float32 holds every integer of up to 16 bits, float64 of up to 32
        return values.astype(np.float64 if size >= 4 else np.float32)
    raise WeightsError(f"{where} has dtype {info.dtype}, not real numbers")


def _as_weight(values: FloatArray, info: TensorInfo, label: str, layout: Layout) -> FloatArray:
    if values.ndim != 4 or values.size == 0:
        raise WeightsError(
            f"weight {info.name!r} in {label} has shape {values.shape}; a convolution weight is"
            f" 4-D and not empty: {_AXES[layout]}"
        )
    _check_finite(values, f"weight {info.name!r} in {label}")
    if layout == "hwio":
        values = values.transpose(3, 2, 0, 1)
    return np.ascontiguousarray(values)


def _as_bias(values: FloatArray, info: TensorInfo, label: str) -> FloatArray:
    if values.ndim != 1:
        raise WeightsError(
            f"bias {info.name!r} in {label} has shape {values.shape}; a bias is 1-D: (C_out,)"
        )
    _check_finite(values, f"bias {info.name!r} in {label}")
    return values


def _check_finite(values: FloatArray, what: str) -> None:
    """Refuse NaN and infinity, naming the first one's index in the stored array."""
    not_finite = ~np.isfinite(values)
    count = int(np.count_nonzero(not_finite))
    if count:
        index = tuple(int(i) for i in np.argwhere(not_finite)[0])
        others = f" (and {count - 1} more)" if count > 1 else ""
        raise WeightsError(
            f"{what} has a non-finite value, {float(values[index])}, at {list(index)}{others}"
        )


class _Npy:
    """An ``.npy`` file: one array, named after the file's stem."""

    def __init__(self, stream: IO[bytes], label: str, name: str) -> None:
        self.label, self._stream = label, stream
        try:
            shape, _, dtype = read_npy_header(stream)
        except _READ_ERRORS as error:
            raise WeightsError(f"cannot read {label}: not a readable .npy file ({error})") from None
        self.infos = [TensorInfo(name, shape, str(dtype))]

    def read(self, name: str) -> npt.NDArray[Any]:
        self._stream.seek(0)
        values = np.load(self._stream, allow_pickle=False)
        if not isinstance(values, np.ndarray):
            raise WeightsError(f"cannot read {self.label}: not an .npy file")
        return values


class _Npz:
    """An ``.npz`` archive: ``.npy`` files in a zip, named after its members."""

    def __init__(self, archive: NpzFile[Any], label: str) -> None:
        self.label, self._archive = label, archive
        if archive.zip is None:
            raise WeightsError(f"cannot read {label}: not an .npz archive")
        self.infos = [self._info(archive.zip, member) for member in archive.zip.namelist()]

    def _info(self, members: zipfile.ZipFile, member: str) -> TensorInfo:
        name = member.removesuffix(".npy")  # as np.load names it
        try:
            with members.open(member) as stream:
                shape, _, dtype = read_npy_header(stream)
        except _READ_ERRORS as error:
            raise WeightsError(
                f"cannot read {name!r} in {self.label}: not a readable .npy array ({error})"
            ) from None
        return TensorInfo(name, shape, str(dtype))

    def read(self, name: str) -> npt.NDArray[Any]:
        return self._archive[name]


@dataclass(frozen=True)
class _Entry:
    """A tensor's line in a safetensors header; offsets are from the data section's start."""

    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


class _Safetensors:
    """A ``.safetensors`` file, its header read and checked; tensors are read when asked."""

    def __init__(self, stream: IO[bytes], label: str) -> None:
        self.label, self._stream = label, stream
        size = os.fstat(stream.fileno()).st_size
        start = stream.read(8)
        if len(start) < 8:
            raise WeightsError(
                f"{label} is not a .safetensors file: {size} bytes, too short for its header"
            )
        (header_size,) = struct.unpack("<Q", start)
        if header_size > size - 8:
            raise WeightsError(
                f"{label}: its header length, {header_size} bytes, runs past the end of the file"
                f" ({size} bytes): not a .safetensors file, or a truncated one"
            )
        try:
            header = json.loads(stream.read(header_size).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise WeightsError(f"{label}: its header is not valid UTF-8 JSON ({error})") from None
        if not isinstance(header, dict):
            raise WeightsError(f"{label}: its header is JSON but not an object of tensors")
        self._data_start = 8 + header_size
        data_size = size - self._data_start
        self._entries = {
            name: _entry(fields, f"tensor {name!r} in {label}", data_size)
            for name, fields in header.items()
            if name != "__metadata__"
        }
        self.infos = [TensorInfo(n, e.shape, e.dtype) for n, e in self._entries.items()]

    def read(self, name: str) -> npt.NDArray[Any]:
        entry, where = self._entries[name], f"tensor {name!r} in {self.label}"
        code = _SAFETENSORS_DTYPES.get(entry.dtype)
        if code is None:
            known = ", ".join(code for code in _SAFETENSORS_DTYPES if code != "BOOL")
            raise WeightsError(
                f"{where} has dtype {entry.dtype!r}, which convcli does not read (it reads {known})"
            )
        self._stream.seek(self._data_start + entry.begin)
        data = self._stream.read(entry.end - entry.begin)
        if len(data) != entry.end - entry.begin:
            raise WeightsError(f"{where}: the file ends inside its data (truncated)")
        values = np.frombuffer(data, np.dtype(code)).reshape(entry.shape)
        if entry.dtype == "BF16":
            return (values.astype(np.uint32) << 16).view(np.float32)
        return values


def _entry(fields: object, where: str, data_size: int) -> _Entry:
    """A header's entry for one tensor, checked against the data section's size."""
    if not isinstance(fields, dict):
        raise WeightsError(f"{where}: its header entry is not a JSON object")
    missing = [key for key in ("dtype", "shape", "data_offsets") if key not in fields]
    if missing:
        raise WeightsError(f"{where}: its header entry has no {missing[0]!r}")
    dtype = fields["dtype"]
    shape, offsets = _counts(fields["shape"]), _counts(fields["data_offsets"])
    if not isinstance(dtype, str):
        raise WeightsError(f"{where}: its dtype is {dtype!r}, not a string such as 'F32'")
    if shape is None:
        raise WeightsError(f"{where}: its shape {fields['shape']!r} is not a list of sizes")
    if offsets is None or len(offsets) != 2:
        raise WeightsError(
            f"{where}: its data_offsets {fields['data_offsets']!r} are not [begin, end] in bytes"
        )
    begin, end = offsets
    if end < begin:
        raise WeightsError(f"{where}: its data_offsets [{begin}, {end}] end before they begin")
    if end > data_size:
        raise WeightsError(
            f"{where}: its data_offsets [{begin}, {end}] run past the end of the data"
            f" ({data_size} bytes): the file is truncated or its header is wrong"
        )
    code = _SAFETENSORS_DTYPES.get(dtype)
    size = None if code is None else math.prod(shape) * np.dtype(code).itemsize
    if size is not None and end - begin != size:
        raise WeightsError(
            f"{where}: shape {list(shape)} of {dtype} takes {size} bytes, but its data_offsets"
            f" [{begin}, {end}] hold {end - begin}"
        )
    return _Entry(dtype, shape, begin, end)


def _counts(value: object) -> tuple[int, ...] | None:
    """`value` if it is a JSON list of sizes (non-negative integers that fit 64 bits)."""
    if isinstance(value, list) and all(type(v) is int and 0 <= v < 2**63 for v in value):
        return tuple(value)  # type(v) is int: JSON's true and false are bools, ints to Python
    return None


_TensorFile: TypeAlias = _Npy | _Npz | _Safetensors


@contextmanager
def _opened(path: Path) -> Iterator[_TensorFile]:
    """The tensors of the file at `path`, by its extension, open while inside."""
    label, suffix = str(path), path.suffix.lower()
    if suffix in _PICKLE_SUFFIXES:
        raise _pickle_refused(path, "is a Python pickle")
    try:
        with path.open("rb") as stream:
            if suffix == ".npy":
                yield _Npy(stream, label, path.stem)
            elif suffix == ".npz":
                try:
                    archive = np.load(stream, allow_pickle=False)
                except _READ_ERRORS as error:
                    raise WeightsError(
                        f"cannot read {label}: not an .npz archive ({error})"
                    ) from None
                if not isinstance(archive, NpzFile):
                    raise WeightsError(f"cannot read {label}: an .npy array, not an .npz archive")
                with archive:
                    yield _Npz(archive, label)
            elif suffix == ".safetensors":
                yield _Safetensors(stream, label)
            elif stream.read(4).startswith(_PICKLE_OR_ZIP):
                raise _pickle_refused(path, "looks like a Python pickle or a PyTorch zip of one")
            else:
                raise WeightsError(
                    f"{label}: unknown weights format {suffix or '(no extension)'}; convcli"
                    " reads .npy, .npz and .safetensors"
                )
    except OSError as error:  # missing, a directory, not permitted, or failing while read
        raise WeightsError(f"cannot read {label}: {error.strerror or error}") from None


def _pickle_refused(path: Path, what: str) -> WeightsError:
    """The refusal of a pickle, with the one line of Python that converts it."""
    source, target = str(path), str(path.with_suffix(".safetensors"))
    return WeightsError(
        f"{source} {what}, which convcli never loads (unpickling can run any code in the file);"
        ' convert it once where you trust it: python -c "import torch, safetensors.torch as st;'
        f" st.save_file(torch.load({source!r}, map_location='cpu', weights_only=True),"
        f' {target!r})"'
    )
