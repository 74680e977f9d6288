"""The exceptions convcli raises, one family under :class:`ConvcliError`.

The library raises them; the command line turns each into a one-line message and an exit code
in one place (:mod:`convcli.cli.exits`). Argument errors also derive from :class:`ValueError`,
so that callers of the Python API can catch them the usual way.
"""

from __future__ import annotations


class ConvcliError(Exception):
    """Base class of every error convcli raises on purpose."""


class ParameterError(ConvcliError, ValueError):
    """A stride, padding, dilation, pad mode or other option breaks its rule."""


class KernelError(ConvcliError, ValueError):
    """A kernel is empty, ragged, not 2-D, not numeric or not finite."""


class WeightsError(ConvcliError, ValueError):
    """A file of a layer's weights cannot be used: missing, truncated, malformed, a pickle, or
    without the tensor asked for."""


class UnknownKernelError(ConvcliError, LookupError):
    """No built-in kernel has that name."""

    def __init__(self, name: str, suggestions: tuple[str, ...]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = did_you_mean(suggestions)
        super().__init__(f"unknown kernel {name!r}{hint} (list them with 'convcli kernels')")


class ShapeError(ConvcliError, ValueError):
    """The (dilated) kernel does not fit the padded input, or the padding does not fit the mode."""

    def __init__(self, message: str, details: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.details = details
        """Lines that show the arithmetic behind the message, one per axis."""


class ImageReadError(ConvcliError):
    """An input image cannot be opened or decoded."""


class ImageWriteError(ConvcliError):
    """An output image cannot be encoded or written."""


class NotEnoughMemoryError(ConvcliError, MemoryError):
    """An image and its chain need more memory than there is."""


class OutputClosedError(ConvcliError):
    """Standard output is closed: a command's product has nowhere to go."""


class ClusterError(ConvcliError):
    """A Dask cluster cannot run a batch, or stopped running it."""


def did_you_mean(names: tuple[str, ...]) -> str:
    """``"; did you mean 'a', 'b' or 'c'?"``, or nothing when there are no names.

    >>> did_you_mean(("sobel-x", "sobel")), did_you_mean(())
    ("; did you mean 'sobel-x' or 'sobel'?", '')
    """
    if not names:
        return ""
    quoted = [repr(name) for name in names]
    alternatives = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"; did you mean {alternatives}?"


class ImageWarning(UserWarning):
    """Something in an image file that convcli read past: what its decoder warned about."""
