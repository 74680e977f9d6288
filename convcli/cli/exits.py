"""How the command line ends: every failure one line on stderr and an exit code, never a
traceback (unless ``--debug``).

====  ==========================================================================
0     success
1     the data did not cooperate: unreadable input, unwritable output, a kernel
      that does not fit the image
2     the command line is wrong: unknown kernel, bad option value or combination
130   interrupted (Ctrl-C)
143   terminated (SIGTERM)
====  ==========================================================================
"""

from __future__ import annotations

import signal
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import click

from convcli.errors import (
    ConvcliError,
    ImageWarning,
    KernelError,
    ParameterError,
    ShapeError,
    UnknownKernelError,
    WeightsError,
)
from convcli.terminal.console import report_error, show_warning, stderr_console

EXIT_OK = 0
EXIT_DATA_ERROR = 1
EXIT_USAGE_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM


def exit_code_for(error: ConvcliError) -> int:
    """Usage errors (the command line is wrong) exit 2; data errors exit 1."""
    if isinstance(error, ParameterError | KernelError | UnknownKernelError | WeightsError):
        return EXIT_USAGE_ERROR
    return EXIT_DATA_ERROR


class Interrupted(click.ClickException):
    """Ctrl-C while a command runs."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self) -> None:
        super().__init__("interrupted")


class SomeFilesFailedError(Exception):
    """Some files of a batch failed: each was reported when it did; exit 1."""


class ConvcliGroup(click.Group):
    """A group that reports every failure as one line and an exit code, never a traceback."""

    debug = False

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted() from None

    def main(  # type: ignore[override]  # Click types main() as NoReturn only when standalone
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:  # the caller handles errors itself
            return super().main(args, prog_name, standalone_mode=False, **extra)
        self.debug = False
        with warnings.catch_warnings():
            warnings.simplefilter("always", ImageWarning)
            warnings.showwarning = show_warning
            code = self._run(args, prog_name, **extra)
        sys.exit(code)

    def _run(self, args: Sequence[str] | None, prog_name: str | None, **extra: Any) -> int:
        """Run the command line; report any failure in one line; return the exit code."""
        try:
            result = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as error:  # bare `convcli`: the help
            error.show()
            return error.exit_code
        except (Interrupted, click.exceptions.Abort):
            if stderr_console().is_terminal:
                print(file=sys.stderr)  # past the terminal's "^C"
            report_error("interrupted")
            return EXIT_INTERRUPTED
        except click.UsageError as error:
            self._show_traceback()
            # A bad value names its option and the rule; other slips get a pointer to the help.
            names_the_rule = isinstance(error, click.BadParameter) and not isinstance(
                error, click.MissingParameter
            )
            hint = ""
            if error.ctx is not None and not names_the_rule:
                hint = f" (see '{error.ctx.command_path} --help')"
            report_error(error.format_message() + hint)
            return error.exit_code
        except SomeFilesFailedError:  # each failure is on stderr already, and the summary
            return EXIT_DATA_ERROR
        except click.ClickException as error:
            self._show_traceback()
            report_error(error.format_message())
            return error.exit_code
        except ConvcliError as error:
            self._show_traceback()
            report_error(str(error), error.details if isinstance(error, ShapeError) else ())
            return exit_code_for(error)
        except MemoryError:
            self._show_traceback()
            report_error("not enough memory for this image and kernel")
            return EXIT_DATA_ERROR
        except Exception as error:  # a bug: say so in one line, keep the traceback for --debug
            self._show_traceback()
            report_error(
                f"internal error: {type(error).__name__}: {error}"
                " (run 'convcli --debug ...' to see the traceback)"
            )
            return EXIT_DATA_ERROR
        return result if isinstance(result, int) else EXIT_OK

    def _show_traceback(self) -> None:
        if self.debug:
            import traceback

            traceback.print_exc(file=sys.stderr)
