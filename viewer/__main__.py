"""The single entry point: no verb (or `view`) opens the GUI; every other verb runs the CLI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    from viewer.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
