"""Running convcli's command line, in the test process or as the installed command, and
reading what it says when it fails."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from click.testing import CliRunner, Result

from convcli.cli.main import cli

TERMINAL: dict[str, str | None] = {
    "FORCE_COLOR": "1",
    "COLORTERM": "truecolor",
    "TERM": "xterm-256color",
    "COLUMNS": "80",
    "LINES": "40",
    "NO_COLOR": None,
    "TTY_COMPATIBLE": None,
    "TTY_INTERACTIVE": None,
}
"""The environment in which Rich takes stdout for a truecolor terminal of 80x40 (None: unset)."""
NOT_A_TERMINAL: dict[str, str | None] = dict.fromkeys(TERMINAL)
"""The same variables unset: Rich sees what stdout is, which under CliRunner is no terminal."""

ERROR = "convcli: error: "


def run(
    *args: object, stdin: bytes | str | None = None, terminal: bool | None = None, **env: str
) -> Result:
    """``convcli ARGS`` through Click's CliRunner, its stdout and stderr captured apart.

    `stdin` is what standard input holds. `terminal` True or False sets :data:`TERMINAL` or
    :data:`NOT_A_TERMINAL` for the run; None leaves the environment as it is. `env` sets more
    variables (COLUMNS="30", NO_COLOR="1") over those. As by Click's default, an exception
    convcli lets escape is caught: the exit code is 1 and the exception is `result.exception`.
    """
    environment: dict[str, str | None] = {}
    if terminal is not None:
        environment.update(TERMINAL if terminal else NOT_A_TERMINAL)
    environment.update(env)
    return CliRunner().invoke(
        cli, [str(arg) for arg in args], input=stdin, env=environment, prog_name="convcli"
    )


def convcli_executable() -> str:
    """The console script installed beside this Python, else the one on PATH."""
    beside = Path(sys.executable).parent / "convcli"
    found = str(beside) if beside.exists() else shutil.which("convcli")
    assert found, "the convcli command is not installed (run 'make test', which installs it)"
    return found


def run_installed(
    *args: object,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """The installed ``convcli ARGS`` as a process of its own, in `cwd` with the environment
    `env` (None: this one's), its stdout and stderr captured as text."""
    return subprocess.run(
        [convcli_executable(), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def one_line_error(
    result: Result, code: int, text: str = "", *, stdout: str | None = "", alone: bool = True
) -> str:
    """Assert that the command failed as every error does, and return its message.

    It exits with `code`; stderr is one line, ``convcli: error: MESSAGE`` with `text` in the
    message, and no traceback; stdout holds `stdout` (None: not checked, for a --json record).
    With `alone` False the error is stderr's first line, and lines that explain it may follow.
    """
    assert result.exit_code == code, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert lines, "nothing on stderr"
    if alone:
        assert len(lines) == 1, result.stderr
    assert lines[0].startswith(ERROR), result.stderr
    message = lines[0].removeprefix(ERROR)
    assert text in message, message
    if stdout is not None:
        assert result.stdout == stdout
    return message
