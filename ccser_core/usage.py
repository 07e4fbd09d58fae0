"""The command-line parser every ccser program uses: a usage error is one line.

argparse prints the whole usage block (15 lines for ccser-train) before the one line
that says what is wrong; users read the first line, so that line is the error, with a
pointer to --help for the rest.
"""

from __future__ import annotations

import argparse
from typing import NoReturn


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")
