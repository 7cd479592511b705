"""`dicom-viewer mpps NODE create|set ...`: Modality Performed Procedure Step N-CREATE / N-SET.

    mpps NODE create STUDY_UID [--accession A] [--scheduled-step ID]   -> prints the MPPS UID
    mpps NODE set MPPS_UID --status completed|discontinued [--study STUDY_UID]
"""

from __future__ import annotations

import argparse

from viewer.cli import CLIError, config_node, load_config, open_archive


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("mpps", help="modality performed procedure step (N-CREATE / N-SET)")
    p.add_argument("node", help="a node name from `nodes list`")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="start a step (IN PROGRESS) for a study")
    create.add_argument("study_uid", metavar="STUDY_UID", help="a study in the archive")
    create.add_argument("--accession", default="", help="the worklist's accession number")
    create.add_argument("--scheduled-step", default="", help="the worklist's step ID")
    finish = actions.add_parser("set", help="end a step with the series it made")
    finish.add_argument("mpps_uid", metavar="MPPS_UID")
    finish.add_argument("--status", required=True, choices=("completed", "discontinued"))
    finish.add_argument("--study", default="", help="list this archive study's series")


def run(args: argparse.Namespace) -> int:
    from viewer.net import mpps
    from viewer.net.association import Local, PeerError

    settings = load_config(args)
    node = config_node(settings, args.node)
    local = Local(settings.local, settings.network)
    try:
        if args.action == "create":
            with open_archive(args) as archive:
                try:
                    step = mpps.step_from_archive(archive, args.study_uid, args.accession,
                                                  args.scheduled_step)
                except LookupError as exc:
                    raise CLIError(str(exc)) from None
            print(mpps.create_step(node, local, step))
            return 0
        series: list[mpps.PerformedSeries] = []
        if args.study:
            with open_archive(args) as archive:
                if archive.index.get_study(args.study) is None:
                    raise CLIError(f"{args.study}: no such study in the archive")
                series = mpps.series_from_archive(archive, args.study)
        mpps.finish_step(node, local, args.mpps_uid, args.status.upper(), series)
        print(f"{args.mpps_uid}: {args.status.upper()}")
        return 0
    except PeerError as exc:
        raise CLIError(str(exc)) from None
