"""What people see: the consoles, renderings of arithmetic, kernels and worked pixels,
images drawn in the terminal, a batch's progress and report, a large image's progress.

May import every layer below it, and Rich. Rich is imported when something is printed:
:mod:`~convcli.terminal.console` is imported by ``--help``. Its modules:
:mod:`~convcli.terminal.console`, :mod:`~convcli.terminal.render`,
:mod:`~convcli.terminal.render_pixel`, :mod:`~convcli.terminal.preview`,
:mod:`~convcli.terminal.show`, :mod:`~convcli.terminal.batch_report` and
:mod:`~convcli.terminal.progress` (a large image's progress bar).
"""
