"""The ``convcli`` command line: Click over the library, one module per command.

The only importer of Click. :mod:`~convcli.cli.main` has the group and the entry point; the
commands are :mod:`~convcli.cli.apply`, :mod:`~convcli.cli.explain`,
:mod:`~convcli.cli.kernels`, :mod:`~convcli.cli.shape`, :mod:`~convcli.cli.sheet` and
:mod:`~convcli.cli.show`; :mod:`~convcli.cli.options` and :mod:`~convcli.cli.types` hold the
options and parameter types they share, :mod:`~convcli.cli.exits` how a run ends (one line
and an exit code), and :mod:`~convcli.cli.streams` standard input and output. Each command
imports the library when it runs, so that ``convcli --help`` imports neither NumPy, Pillow
nor Rich.
"""
