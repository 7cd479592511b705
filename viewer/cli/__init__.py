"""The command-line face: `dicom-viewer <verb>` (contract in CLI.md).

Each verb lives in its own module with `add_parser(subparsers)` and `run(args) -> int`. Verb modules
import heavy libraries (pydicom, codecs, Qt) inside `run`, so `--help` and start-up stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from viewer import __version__

if TYPE_CHECKING:
    from viewer.archive.archive import Archive
    from viewer.archive.retention import RetentionPolicy
    from viewer.config import Node, Settings

# verb -> module under viewer.cli; the order is the order of `--help`.
VERBS: dict[str, str] = {
    "view": "view",
    "info": "info",
    "render": "render",
    "mpr": "mpr",
    "render3d": "render3d",
    "sr": "sr",
    "import": "importing",
    "studies": "browse",
    "series": "browse",
    "instances": "browse",
    "keys": "keys",
    "delete": "delete",
    "prune": "prune",
    "check": "check",
    "nodes": "nodes",
    "echo": "echo",
    "query": "query",
    "retrieve": "retrieve",
    "send": "send",
    "listen": "listen",
    "worklist": "worklist",
    "mpps": "mpps",
    "dicomize": "dicomize",
    "print": "printing",
    "export": "export",
    "export-images": "export_images",
    "hanging": "hanging",
    "validate": "validate",
    "bench": "bench",
}


def files_or_studies(args: argparse.Namespace, items: list[str], doing: str
                     ) -> tuple[list[Path], set[str]]:
    """The files `items` name, in the order given: paths as they are (folders expanded),
    anything else a study of the archive; and which of them are the archive's own files.
    Exit 2 naming the first item that is neither, or when nothing is left to `doing`."""
    from viewer.dicom.files import expand_paths

    files: list[Path] = []
    from_archive: set[str] = set()
    archive = None
    try:
        for item in items:
            path = Path(item)
            if path.exists():
                files.extend(expand_paths([path]))
                continue
            if archive is None:
                archive = open_archive(args)
            study = archive.study_files(item)
            if not study:
                raise CLIError(f"{item}: no such file, folder or study in the archive")
            files.extend(study)
            from_archive.update(str(f) for f in study)
    finally:
        if archive is not None:
            archive.close()
    if not files:
        raise CLIError(f"nothing to {doing}: the folders given hold no files")
    return files, from_archive


def open_archive(args: argparse.Namespace, settings: Settings | None = None) -> Archive:
    """The archive of `--archive`, $VIEWER_ARCHIVE or the user's data folder; with `settings`,
    bounded by their `[archive] quota_gb` (imports and retrieves then prune past it)."""
    from viewer.archive.archive import Archive
    from viewer.config import default_archive_dir

    root = args.archive or default_archive_dir()
    try:
        return Archive(root, retention=retention_policy(settings) if settings else None)
    except OSError as exc:
        raise CLIError(f"{root}: cannot open the archive: {exc.strerror or exc}") from None


def retention_policy(settings: Settings) -> RetentionPolicy | None:
    """The quota of the config and whose storage commitment counts; None without a quota."""
    from viewer.archive.retention import RetentionPolicy

    return RetentionPolicy.from_settings(settings)


def load_config(args: argparse.Namespace) -> Settings:
    """The settings of `--config`, $VIEWER_CONFIG or the user's config file."""
    from viewer.config import ConfigError, load_settings

    try:
        return load_settings(getattr(args, "config", None))
    except ConfigError as exc:
        raise CLIError(str(exc)) from None


def config_node(settings: Settings, name: str) -> Node:
    """The configured node `name`; CLIError (exit 2) naming the known ones."""
    from viewer.config import ConfigError

    try:
        return settings.node(name)
    except ConfigError as exc:
        raise CLIError(str(exc)) from None


class CLIError(Exception):
    """A problem reported as one line on stderr; `exit_code` 2 means nothing could be started."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The parser; with a known `verb`, only that verb's module is imported and its parser built.

    Importing the twenty verb modules and building every subparser cost ~45 ms of each start
    here, a fifth of `info FILE`; `--help`, no verb or an unknown one still get them all."""
    parser = argparse.ArgumentParser(
        prog="dicom-viewer", description="DICOM workstation: viewer, archive, PACS, print, media."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--archive", type=Path, help="archive folder (env VIEWER_ARCHIVE)")
    parser.add_argument("--config", type=Path, help="config file, TOML (env VIEWER_CONFIG)")
    parser.add_argument("--debug", action="store_true", help="tracebacks and debug logging")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    modules = [VERBS[verb]] if verb in VERBS else VERBS.values()
    for module in dict.fromkeys(modules):  # a module may serve several verbs
        importlib.import_module(f"viewer.cli.{module}").add_parser(sub)
    return parser


_GLOBAL_OPTIONS_WITH_VALUE = ("--archive", "--config")


def verb_in(argv: list[str]) -> str | None:
    """The verb argparse will find in `argv`: the first word that is neither a global option
    nor its value (abbreviations such as `--arch DIR` included); None when there is none."""
    words = iter(argv)
    for word in words:
        if word == "--":
            return next(words, None)
        if word.startswith("-"):
            takes_value = len(word) > 2 and "=" not in word and any(
                option.startswith(word) for option in _GLOBAL_OPTIONS_WITH_VALUE
            )
            if takes_value:
                next(words, None)
            continue
        return word
    return None


def parse(argv: list[str]) -> argparse.Namespace:
    """Parse the command line; no verb means `view`. Sets up logging from --debug."""
    args = build_parser(verb_in(argv)).parse_args(argv)
    if args.verb is None:
        args = build_parser("view").parse_args([*argv, "view"])
    # stderr carries one line per problem (CLI.md): the libraries' own warnings about a file
    # (pydicom's reader complaints) are already in our reasons, so they show only with --debug.
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.debug:
        # pydicom sets its own logger's level on import and logs every failed codec plugin
        # with a traceback: filter at our handler instead; our message carries the reasons.
        for handler in logging.getLogger().handlers:
            handler.setLevel(logging.ERROR)
            # pynetdicom logs each failure at ERROR too; our PeerError says it in one line
            handler.addFilter(lambda record: not record.name.startswith(("pydicom", "pynetdicom")))
    from viewer.dicom.quiet import quiet_libraries

    quiet_libraries(args.debug)  # pydicom's warnings: our reasons say it, one line per file
    return args


def run_verb(args: argparse.Namespace) -> int:
    """Run a parsed headless verb; errors become one line on stderr and an exit code."""
    verb = args.verb
    module = importlib.import_module(f"viewer.cli.{VERBS[verb]}")
    try:
        return int(module.run(args))
    except CLIError as exc:
        # one line, whatever a damaged file put in the values it quotes
        from viewer.dicom.files import one_line

        print(f"dicom-viewer {verb}: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"dicom-viewer {verb}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # the last line of defence: one line, no traceback
        if args.debug:
            raise
        print(f"dicom-viewer {verb}: internal error: {exc!r} (run with --debug)", file=sys.stderr)
        return 2


def main(argv: list[str]) -> int:
    """Every headless verb (the GUI's `view` is dispatched by `viewer.__main__`)."""
    args = parse(argv)
    if args.verb == "view":
        print("dicom-viewer: the viewer is started by `dicom-viewer view`", file=sys.stderr)
        return 2
    return run_verb(args)
