"""``convcli kernels``: the built-in kernels listed, or any kernel drawn with what is true of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from convcli.cli.types import KernelSpecType
from convcli.terminal.console import echo_product, print_product

if TYPE_CHECKING:
    from convcli.kernels.kernel import Step


@click.command()
@click.argument("spec", metavar="SPEC", required=False, type=KernelSpecType())
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["txt", "json"]),
    help="Write the kernel as a text matrix or JSON that -k reads back equal.",
)
def kernels(spec: Step | None, output_format: str | None) -> None:
    """List the built-in kernels, or show any kernel as it was parsed.

    SPEC is anything -k takes: a name, an operator, family:ARGS, a file or a matrix.

    \b
    Examples:
      convcli kernels
      convcli kernels sobel-x
      convcli kernels gaussian:1.4 --format txt > blur.txt
      convcli kernels "1,2,1; 2,4,2; 1,2,1" --format json
    """
    from convcli.kernels.formats import to_json, to_text
    from convcli.kernels.kernel import Operator
    from convcli.kernels.parametric import FAMILIES
    from convcli.kernels.registry import KERNELS, OPERATORS
    from convcli.terminal.render import kernel_listing, step_view

    if spec is None:
        if output_format is not None:
            raise click.UsageError("--format needs a SPEC: the kernel to write")
        print_product(
            kernel_listing(
                list(KERNELS.values()), list(OPERATORS.values()), list(FAMILIES.values())
            )
        )
    elif output_format is None:
        print_product(step_view(spec))
    elif isinstance(spec, Operator):
        raise click.UsageError(
            f"{spec.name} is an operator, not one matrix; write {spec.x.name} or {spec.y.name}"
        )
    else:
        echo_product(to_text(spec) if output_format == "txt" else to_json(spec), newline=False)
