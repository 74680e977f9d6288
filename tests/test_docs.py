"""The README cannot drift from the code: commands, kernels, exit codes, the quick start."""

from __future__ import annotations

import ast
import importlib.util
import re

import click
import numpy as np
import pytest
from PIL import Image

from convcli.cli.exits import (
    EXIT_DATA_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE_ERROR,
)
from convcli.cli.main import cli
from convcli.imageio.writing import FORMATS
from convcli.kernels.parametric import FAMILIES
from convcli.kernels.registry import KERNELS, OPERATORS
from convcli.kernels.spec import KERNEL_FILE_SUFFIXES
from convcli.pipeline.rangemap import RANGE_MODES
from tests.conftest import REPOSITORY

ROOT = REPOSITORY
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The README's text under a heading, up to the next heading of the same or higher level."""
    match = re.search(rf"^(#+) {re.escape(title)}\n(.*?)(?=^#{{1,2}} |\Z)", README, re.M | re.S)
    assert match, f"README has no section {title!r}"
    return match.group(2)


def test_quick_start_is_two_commands() -> None:
    block = re.search(r"```sh\n(.*?)```", section("Quick start"), re.S)
    assert block
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert [c for c in commands if c] == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_documented_with_an_example(command: str) -> None:
    assert f"### `convcli {command}`" in README
    assert re.search(rf"^convcli {command}\b", section(f"`convcli {command}`"), re.M)
    help_text = cli.commands[command].help
    assert help_text
    assert "Examples:" in help_text


def test_every_apply_option_is_documented() -> None:
    apply = cli.commands["apply"]
    assert isinstance(apply, click.Command)
    for param in apply.params:
        if isinstance(param, click.Option) and param.name != "help":
            assert any(f"`{opt}" in README for opt in param.opts), param.opts


def test_every_range_mode_is_documented() -> None:
    for mode in RANGE_MODES:
        assert f"| `{mode}` |" in section("`convcli apply`")


def test_every_kernel_is_in_the_table_with_its_weights() -> None:
    rows = re.findall(
        r"^\| `([a-z0-9-]+)` \| (.+?) \| (-?\d+) \| .+ \|$", section("Built-in kernels"), re.M
    )
    assert [name for name, _, _ in rows] == list(KERNELS)
    literal_rows = 0
    for name, weights, total in rows:
        kernel = KERNELS[name]
        assert float(total) == kernel.total, name
        literal = re.fullmatch(r"`(\[\[.*\]\])(?:/(\d+))?`", weights)
        if literal:  # a matrix as written, maybe over a divisor: it must be the kernel's
            grid = np.array(ast.literal_eval(literal.group(1)), dtype=float)
            divisor = int(literal.group(2) or 1)
            assert np.array_equal(grid / divisor, kernel.weights), name
            literal_rows += 1
    assert literal_rows >= len(KERNELS) - 2  # only the two 5x5 kernels are described in words


def test_every_operator_and_family_is_documented() -> None:
    table = section("Built-in kernels")
    for name, operator in OPERATORS.items():
        assert f"| `{name}` | `{operator.x.name}`, `{operator.y.name}` |" in table
    for family in FAMILIES.values():
        assert f"`{family.name}:" in table


def test_every_kernel_file_format_is_documented() -> None:
    formats = section("Your own kernels")
    for suffix in KERNEL_FILE_SUFFIXES:
        assert f"`{suffix}`" in formats


def test_every_output_format_is_documented() -> None:
    apply = section("`convcli apply`")
    for fmt in FORMATS.values():
        # The format table's first column: "png", or "pgm, ppm" for two formats in one row.
        row = next(
            line
            for line in apply.splitlines()
            if re.match(rf"\| (\w+, )?{fmt.name}(, \w+)? \|", line)
        )
        for extension in fmt.extensions:
            assert f"`{extension}`" in row, (fmt.name, extension)


def test_exit_code_table() -> None:
    table = section("Exit codes and errors")
    for code in (EXIT_OK, EXIT_DATA_ERROR, EXIT_USAGE_ERROR, EXIT_INTERRUPTED, EXIT_TERMINATED):
        assert re.search(rf"^\| {code} \|", table, re.M)


def test_sample_images_are_all_listed() -> None:
    listed = set(re.findall(r"^\| ([\w-]+\.(?:png|jpg)) \|", section("Sample images"), re.M))
    on_disk = {p.name for p in (ROOT / "sample_images").iterdir() if p.suffix in {".png", ".jpg"}}
    assert listed == on_disk


def test_the_layout_table_lists_every_module_in_its_layer() -> None:
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| `?(\w+)/?`? \| (.+?) \|", section("Development"), re.M)
    }
    package = ROOT / "convcli"
    layers = {path.parent.name for path in package.glob("*/__init__.py")}
    assert {*layers, "vocabulary"} <= set(rows), sorted(rows)
    for layer in layers:
        for module in (package / layer).glob("*.py"):
            is_command = layer == "cli" and module.stem in cli.commands  # "one per command"
            if module.name != "__init__.py" and not is_command:
                assert f"`{module.name}`" in rows[layer], (layer, module.name)
    for module in package.glob("*.py"):
        if module.stem not in ("__init__", "__main__"):
            assert f"`{module.name}`" in rows["vocabulary"], module.name


def test_the_alpha_figure_is_what_the_script_draws_today() -> None:
    spec = importlib.util.spec_from_file_location(
        "figure", ROOT / "scripts" / "make_alpha_figure.py"
    )
    assert spec is not None
    assert spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert "(docs/alpha-blur.png)" in README
    with Image.open(ROOT / "docs" / "alpha-blur.png") as drawn:
        assert np.array_equal(np.asarray(drawn), script.figure())
