"""The progress bar of one large image, and when it stays away."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from convcli.terminal.progress import rows_progress
from tests.cli_helpers import run, run_installed


def test_the_bar_shows_rows_done_their_rate_and_the_time_left_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_INTERACTIVE", "1")
    monkeypatch.setenv("COLUMNS", "120")
    with rows_progress("scan.tif", shown_after=0) as progress:
        assert progress is not None
        progress(300, 1000)
        progress(1000, 1000)
    shown = capsys.readouterr().err
    assert "scan.tif" in shown
    assert "1000/1000" in shown
    assert "rows/s" in shown


def test_a_run_quicker_than_the_delay_shows_no_bar(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_INTERACTIVE", "1")
    with rows_progress("scan.tif", shown_after=60) as progress:
        assert progress is not None
        progress(1000, 1000)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("quiet", [True, False])
def test_no_bar_when_quiet_or_not_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, quiet: bool
) -> None:
    if quiet:
        monkeypatch.setenv("FORCE_COLOR", "1")
        monkeypatch.setenv("TTY_INTERACTIVE", "1")
    else:
        monkeypatch.setenv("TTY_INTERACTIVE", "0")
    with rows_progress("scan.tif", quiet=quiet, shown_after=0) as progress:
        assert progress is None


def test_a_tiff_read_in_parts_says_nothing_on_stderr_off_a_terminal(tmp_path: Path) -> None:
    folder = tmp_path
    pixels = np.random.default_rng(0).integers(0, 256, (600, 500), dtype=np.uint8)
    tifffile.imwrite(folder / "in.tif", pixels, tile=(64, 64))
    done = run_installed("apply", "-k", "sobel", "-q", folder / "in.tif", folder / "out.tif")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert tifffile.imread(folder / "out.tif").shape == (598, 498)


def test_quiet_is_taken_for_one_file_too(tmp_path: Path) -> None:
    folder = tmp_path
    tifffile.imwrite(folder / "in.tif", np.zeros((20, 20), np.uint8), tile=(16, 16))
    result = run("apply", "-k", "vertical", "--quiet", folder / "in.tif", folder / "out.png")
    assert result.exit_code == 0, result.stderr
