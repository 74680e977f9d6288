"""Kernels as data: what a kernel is, the built-ins, parametric families, files and specs.

Imports the vocabulary and :mod:`convcli.core`. Its public face:

- :mod:`~convcli.kernels.kernel`: ``Kernel``, ``Operator``, ``Step``, ``is_zero_sum``;
- :mod:`~convcli.kernels.registry`: ``KERNELS`` and ``OPERATORS``, the built-ins by name;
- :mod:`~convcli.kernels.parametric`: ``FAMILIES``, ``gaussian:``, ``box:``, ``log:``;
- :mod:`~convcli.kernels.formats`: kernels from text, ``.mat``, JSON, ``.npy`` and inline
  text, and back (``to_text``, ``to_json``);
- :mod:`~convcli.kernels.spec`: ``resolve_kernel``, what ``-k SPEC`` means;
- :mod:`~convcli.kernels.facts`: ``kernel_facts``, what is true of a kernel;
- :mod:`~convcli.kernels.presets`: ``PRESETS``, the sets ``sheet -k`` expands.

This ``__init__`` imports nothing: the presets are read by ``--help``, without NumPy.
"""
