"""Images in and out: decoding with Pillow, tifffile and ``.npy``, the output formats, the files.

Imports the vocabulary, :mod:`convcli.core` (for its row sources and pairs), NumPy, Pillow
and tifffile (when a TIFF is read or written in parts); never the kernels. Its public face:

- :mod:`~convcli.imageio.reading`: ``open_image``, ``read_size``, ``ImageInfo``: modes and
  units, alpha, EXIF orientation, the decompression-bomb limit;
- :mod:`~convcli.imageio.writing`: ``FORMATS``, ``choose_format``, ``encode_into``: which
  format holds what;
- :mod:`~convcli.imageio.files`: ``Job``, standard streams, named pipes, and atomic writes
  that never lose a file;
- :mod:`~convcli.imageio.png`: ``PngStrips`` and ``write_png``, a PNG compressed a strip at
  a time;
- :mod:`~convcli.imageio.tiff` and :mod:`~convcli.imageio.npy`: TIFF and ``.npy`` read and
  written a band of rows at a time (``TiffRows``, ``write_tiff``, ``NpyRows``, ``write_npy``).
"""
