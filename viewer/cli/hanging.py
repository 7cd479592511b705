"""`dicom-viewer hanging list|show|export|import`: hanging protocols (viewer.reading).

`list` the protocols (shipped defaults and the user's folder, "hanging" beside the config file;
one line per file with an error, exit 1); `show STUDY_UID` how the reading window hangs an
archive study with its relevant priors; `export NAME -o OUT.dcm` a protocol as a DICOM Hanging
Protocol instance; `import FILE.dcm` one into the user's folder as TOML. What the IOD cannot
carry either way is printed as "dropped: ..." lines.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from viewer.cli import CLIError, open_archive

if TYPE_CHECKING:
    from viewer.reading.hanging import Hanging
    from viewer.reading.protocols import HangingProtocol, LoadedProtocols


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("hanging", help="hanging protocols: list, show a study's, export, import")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the protocols (defaults and the user's folder)")
    listing.add_argument("--json", action="store_true")
    show = actions.add_parser("show", help="how a study of the archive is hung")
    show.add_argument("study_uid", metavar="STUDY_UID")
    show.add_argument("--json", action="store_true")
    export = actions.add_parser("export", help="a protocol as a DICOM Hanging Protocol file")
    export.add_argument("name", help="the protocol's name (as `hanging list` shows it)")
    export.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.dcm")
    imports = actions.add_parser("import", help="a DICOM Hanging Protocol into the user's folder")
    imports.add_argument("file", type=Path, metavar="FILE.dcm")
    imports.add_argument("--as", dest="file_name", default="", metavar="NAME.toml",
                         help="the file name in the user's folder (default: FILE's name)")
    imports.add_argument("--replace", action="store_true", help="replace a file of that name")


def _user_dir(args: argparse.Namespace) -> Path:
    from viewer.config import default_config_file
    from viewer.reading.protocols import user_protocol_dir

    return user_protocol_dir(args.config or default_config_file())


def _load(args: argparse.Namespace) -> LoadedProtocols:
    from viewer.reading.protocols import load_protocols

    loaded = load_protocols(_user_dir(args))
    for error in loaded.errors:
        print(error, file=sys.stderr)
    return loaded


def run(args: argparse.Namespace) -> int:
    loaded = None if args.action == "import" else _load(args)
    if args.action == "list":
        assert loaded is not None
        _list(loaded.protocols, args.json)
    elif args.action == "show":
        assert loaded is not None
        _show(args, loaded.protocols)
    elif args.action == "export":
        assert loaded is not None
        _export(args, loaded.protocols)
    else:
        _import(args)
    return 1 if loaded is not None and loaded.errors else 0


def _list(protocols: tuple[HangingProtocol, ...], as_json: bool) -> None:
    if as_json:
        print(json.dumps([{
            "name": p.name, "description": p.description, "path": p.source,
            "stages": [{"name": s.name, "layout": s.layout} for s in p.stages],
        } for p in protocols], indent=2, ensure_ascii=False))
        return
    for p in protocols:
        layouts = ", ".join(s.layout for s in p.stages)
        print(f"{p.name:34} {layouts:16} {p.source}")


def _show(args: argparse.Namespace, protocols: tuple[HangingProtocol, ...]) -> None:
    from viewer.reading.facts import UnknownStudy, hang_archive_study, study_facts
    from viewer.reading.priors import relevant_priors

    with open_archive(args) as archive:
        try:
            hanging = hang_archive_study(archive, args.study_uid, protocols)
        except UnknownStudy as exc:
            raise CLIError(str(exc)) from None
        uids = [args.study_uid, *(r.study_instance_uid for r in
                                  relevant_priors(archive.index, args.study_uid))]
        descriptions = {s.series_instance_uid: s.series_description
                        for uid in uids for s in study_facts(archive, uid).series}
    document = _hanging_json(hanging, uids, descriptions)
    if args.json:
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return
    if hanging.protocol is None:
        print("no protocol matches: one series per viewport")
        return
    print(f"{hanging.protocol.name} (score {hanging.score:g}; {len(uids) - 1} prior(s))")
    for number, stage in enumerate(document["stages"], start=1):
        print(f"stage {number}: {stage['name']} {stage['layout']}")
        for cell in stage["viewports"]:
            what = (f"study {cell['study']}: {cell['SeriesDescription']!s} "
                    f"({cell['SeriesInstanceUID']})" if cell["SeriesInstanceUID"] else "empty")
            print(f"  {cell['viewport']}: {what}")
        for group in stage["sync"]:
            print(f"  sync {group['kind']}: {', '.join(map(str, group['viewports']))}")


def _hanging_json(hanging: Hanging, uids: list[str],
                  descriptions: dict[str, str]) -> dict[str, Any]:
    return {
        "protocol": hanging.protocol.name if hanging.protocol else None,
        "score": hanging.score,
        "StudyInstanceUID": uids[0],
        "priors": uids[1:],
        "scores": [{"name": name, "score": score} for name, score in hanging.scores],
        "stages": [{
            "name": s.stage.name,
            "layout": s.stage.layout,
            "viewports": [{
                "viewport": v.index + 1,
                "study": v.study,
                "StudyInstanceUID": v.study_instance_uid,
                "SeriesInstanceUID": v.series_instance_uid,
                "SeriesDescription": descriptions.get(v.series_instance_uid or ""),
            } for v in s.viewports],
            "sync": [{"kind": g.kind.value, "viewports": [i + 1 for i in g.viewports]}
                     for g in s.stage.sync],
        } for s in hanging.stages],
    }


def _export(args: argparse.Namespace, protocols: tuple[HangingProtocol, ...]) -> None:
    from viewer.reading.hanging_iod import export_protocol

    found = [p for p in protocols if p.name == args.name]
    if not found:
        names = ", ".join(p.name for p in protocols) or "none"
        raise CLIError(f"no hanging protocol named {args.name!r} (known: {names})")
    exported = export_protocol(found[0])
    try:
        exported.dataset.save_as(args.output, enforce_file_format=True)
    except OSError as exc:
        raise CLIError(f"{args.output}: cannot write: {exc.strerror or exc}") from None
    for note in exported.dropped:
        print(f"dropped: {note}")
    print(f"wrote {args.output}")


def _import(args: argparse.Namespace) -> None:
    import re

    from viewer.dicom.files import DicomFileError, read_dataset
    from viewer.reading.hanging_iod import HangingProtocolIODError, import_protocol
    from viewer.reading.protocols import protocol_to_toml

    try:
        imported = import_protocol(read_dataset(args.file), str(args.file))
    except (DicomFileError, HangingProtocolIODError) as exc:
        message = str(exc)
        raise CLIError(message if message.startswith(str(args.file))
                       else f"{args.file}: {message}") from None
    # named after the file given (never after an attribute of it: house rule), or --as
    name = args.file_name or re.sub(r"[^A-Za-z0-9_-]+", "-",
                                    args.file.stem).strip("-").lower() or "imported"
    if "/" in name or "\\" in name or name.startswith("."):
        raise CLIError(f"--as {name!r}: a file name, not a path")
    if not name.endswith(".toml"):
        name += ".toml"
    folder = _user_dir(args)
    target = folder / name
    if target.exists() and not args.replace:
        raise CLIError(f"{target}: exists (use --replace, or --as another name)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target.write_text(protocol_to_toml(imported.protocol), encoding="utf-8")
    except OSError as exc:
        raise CLIError(f"{target}: cannot write: {exc.strerror or exc}") from None
    for note in imported.dropped:
        print(f"dropped: {note}")
    print(f"{imported.protocol.name}: wrote {target}")
