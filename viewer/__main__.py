"""The single entry point: no verb (or `view`) opens the GUI; every other verb runs the CLI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from viewer.cli import parse, run_verb

    args = parse(sys.argv[1:] if argv is None else argv)
    if args.verb == "view":
        from viewer.gui.launch import run

        return run(args)
    return run_verb(args)


if __name__ == "__main__":
    sys.exit(main())
