"""`dicom-viewer mpps NODE create|set ...`: Modality Performed Procedure Step N-CREATE / N-SET.

    mpps NODE create STUDY_UID [--accession A] [--scheduled-step ID]   -> prints the MPPS UID
    mpps NODE create --worklist WL --accession A [--scheduled-step ID]  -> the same, for the
                     worklist item of that accession on node WL (as the worklist panel's Start)
    mpps NODE set MPPS_UID --status completed|discontinued [--study STUDY_UID]

Both faces drive the step through viewer.net.procedure_step.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from viewer.cli import CLIError, config_node, load_config, open_archive

if TYPE_CHECKING:  # pynetdicom loads with viewer.net: only when the verb runs
    from viewer.config import Settings
    from viewer.net.association import Local
    from viewer.net.procedure_step import ProcedureStep


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("mpps", help="modality performed procedure step (N-CREATE / N-SET)")
    p.add_argument("node", help="a node name from `nodes list`")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="start a step (IN PROGRESS) for a study")
    create.add_argument("study_uid", metavar="STUDY_UID", nargs="?", default="",
                        help="a study in the archive (or give --worklist)")
    create.add_argument("--accession", default="", help="the worklist's accession number")
    create.add_argument("--scheduled-step", default="", help="the worklist's step ID")
    create.add_argument("--worklist", default="", metavar="WL",
                        help="start the step for the item of --accession on worklist node WL: "
                             "its patient, order and Study Instance UID")
    finish = actions.add_parser("set", help="end a step with the series it made")
    finish.add_argument("mpps_uid", metavar="MPPS_UID")
    finish.add_argument("--status", required=True, choices=("completed", "discontinued"))
    finish.add_argument("--study", default="", help="list this archive study's series")


def run(args: argparse.Namespace) -> int:
    from viewer.net import mpps
    from viewer.net.association import Local, PeerError
    from viewer.net.procedure_step import ProcedureStep

    settings = load_config(args)
    node = config_node(settings, args.node)
    local = Local(settings.local, settings.network)
    try:
        if args.action == "create":
            print(_step_to_create(args, settings, local).start(node, local))
            return 0
        series: list[mpps.PerformedSeries] = []
        if args.study:
            with open_archive(args) as archive:
                if archive.index.get_study(args.study) is None:
                    raise CLIError(f"{args.study}: no such study in the archive")
                series = mpps.series_from_archive(archive, args.study)
        step = ProcedureStep.in_progress(args.mpps_uid, args.study)
        step.end(node, local, args.status.upper(), series)
        print(f"{args.mpps_uid}: {args.status.upper()}")
        return 0
    except PeerError as exc:
        raise CLIError(str(exc)) from None


def _step_to_create(args: argparse.Namespace, settings: Settings, local: Local) -> ProcedureStep:
    """The step `create` starts: for a study in the archive, or for a worklist item."""
    from viewer.net import mpps
    from viewer.net.procedure_step import ProcedureStep
    from viewer.net.worklist import item_by_accession

    if args.worklist:
        if args.study_uid:
            raise CLIError("give a STUDY_UID or --worklist, not both")
        if not args.accession:
            raise CLIError("--worklist needs --accession: the item's accession number")
        try:
            item = item_by_accession(config_node(settings, args.worklist), local,
                                     args.accession, args.scheduled_step)
        except LookupError as exc:
            raise CLIError(str(exc)) from None
        return ProcedureStep.for_item(item)
    if not args.study_uid:
        raise CLIError("give the STUDY_UID of a study in the archive, or --worklist WL "
                       "--accession A")
    with open_archive(args) as archive:
        try:
            return ProcedureStep(mpps.step_from_archive(archive, args.study_uid, args.accession,
                                                        args.scheduled_step))
        except LookupError as exc:
            raise CLIError(str(exc)) from None
