"""Named sets of kernels that ``convcli sheet -k`` expands: a few feature maps worth comparing.

A preset is data, a name and the ``-k`` specs it stands for, so the command line can list the
presets in its help without importing NumPy. Only ``sheet`` takes them: a chain of every edge
kernel, which is what ``apply -k`` would make of them, means nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Preset:
    """A name for several kernels, each shown as its own tile."""

    name: str
    kernels: tuple[str, ...]
    """Built-in kernel and operator names, in the order the tiles are laid out."""
    summary: str


_PRESETS = (
    Preset(
        "all-edges",
        ("vertical", "horizontal", "sobel", "laplacian"),
        "Edge detectors: one direction, the other, the gradient magnitude, every direction.",
    ),
    Preset(
        "all-blurs",
        ("box-3", "gaussian-3", "box-5", "gaussian-5"),
        "Blurs: the 3x3 and 5x5 means beside the binomial Gaussians of the same sizes.",
    ),
)

PRESETS: Mapping[str, Preset] = MappingProxyType({preset.name: preset for preset in _PRESETS})
"""Every preset by name, in the order the help lists them."""


def describe_presets() -> str:
    """The presets in one phrase, for the help: ``"all-edges (vertical, ...), ..."``.

    >>> describe_presets().split(" (")[0]
    'all-edges'
    """
    return ", ".join(f"{p.name} ({', '.join(p.kernels)})" for p in PRESETS.values())
