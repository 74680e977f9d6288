"""What a terminal shows of convcli's output: cells, their characters and colours."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Cell:
    """One character cell as a terminal shows it."""

    char: str
    fg: RGB | None
    bg: RGB | None


_TOKEN = re.compile(r"\x1b\[([0-9;]*)m|(.)", re.S)


def read_cells(output: str) -> list[list[Cell]]:
    """The lines of a console's output, cell by cell, with their truecolor colours."""
    lines: list[list[Cell]] = [[]]
    fg: RGB | None = None
    bg: RGB | None = None
    for match in _TOKEN.finditer(output):
        codes, char = match.groups()
        if char is None:
            numbers = [int(n) for n in codes.split(";") if n]
            while numbers:
                code = numbers.pop(0)
                if code == 0:
                    fg = bg = None
                elif code in (38, 48):
                    assert numbers[0] == 2, f"not a truecolor code: {codes}"
                    colour = (numbers[1], numbers[2], numbers[3])
                    del numbers[:4]
                    fg, bg = (colour, bg) if code == 38 else (fg, colour)
                else:
                    assert code == 1, f"unexpected style code {code} in {codes}"
        elif char == "\n":
            lines.append([])
        else:
            lines[-1].append(Cell(char, fg, bg))
    assert lines[-1] == [], "a console's output ends with a new line"
    return lines[:-1]


def text_of(line: list[Cell]) -> str:
    return "".join(cell.char for cell in line)


def plain(output: str) -> str:
    """`output` without its style codes: the text a terminal shows."""
    return re.sub(r"\x1b\[[0-9;]*m", "", output)


def read_terminal(leader: int) -> bytes:
    """Everything a pseudo-terminal's program shows, read from its `leader` end as it comes
    (a full terminal buffer would stall the program) until it closes; then closed here."""
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: everything was read
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return shown
