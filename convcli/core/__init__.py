"""The convolution core: NumPy arrays and plain values in, arrays out.

Imports the vocabulary (:mod:`convcli.errors`, :mod:`convcli.choices`) and NumPy, and Dask
in :mod:`~convcli.core.lazy` only, nothing else: no file, no Pillow, no terminal. Its public
face:

- :mod:`~convcli.core.convolution`: ``convolve2d``, ``apply_kernel``, ``sample_centre``;
- :mod:`~convcli.core.params`: ``ConvParams``, PyTorch's options normalised to (h, w) pairs;
- :mod:`~convcli.core.shape`: ``output_shape`` and the arithmetic behind it, per axis;
- :mod:`~convcli.core.padding`: the pad modes, and padded strips of rows;
- :mod:`~convcli.core.methods`: how it is computed (``Compute``, ``choose_method``,
  ``separable_factors``, ``Correlation``): direct, separable, gemm and FFT over strips and
  threads;
- :mod:`~convcli.core.layer`: ``conv2d``, a whole layer (channels, groups, bias), as one
  matrix product per strip;
- :mod:`~convcli.core.rows`: ``ComputedRows`` and ``MappedRows``, steps whose rows are
  computed when read, a block at a time: a chain over an image larger than memory;
- :mod:`~convcli.core.lazy`: ``convolve2d`` on a Dask array (``apply_kernel_lazily``,
  ``output_chunks``), imported only when one is given, so that Dask stays optional.

:mod:`~convcli.core.params` and :mod:`~convcli.core.shape` import no NumPy, so that the
command line's shape arithmetic starts without it; this ``__init__`` imports nothing either.
"""
