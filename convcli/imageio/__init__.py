"""Images in and out: decoding with Pillow (and ``.npy``), the output formats, the files.

Imports the vocabulary, :mod:`convcli.core` (for its row sources and pairs), NumPy and
Pillow; never the kernels. Its public face:

- :mod:`~convcli.imageio.reading`: ``open_image``, ``read_size``, ``ImageInfo``: modes and
  units, alpha, EXIF orientation, the decompression-bomb limit;
- :mod:`~convcli.imageio.writing`: ``FORMATS``, ``choose_format``, ``encode_into``: which
  format holds what;
- :mod:`~convcli.imageio.files`: ``Job``, standard streams, named pipes, and atomic writes
  that never lose a file;
- :mod:`~convcli.imageio.png`: ``PngStrips``, a PNG compressed a strip at a time.
"""
