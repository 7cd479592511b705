"""`dicom-viewer dicomize FILE.jpg|FILE.png|FILE.pdf... [--worklist NODE --accession A |
--study STUDY_UID | --patient-id ID --patient-name N] [--send NODE] [--json]`: photos and
documents into DICOM for a patient's order (viewer.capture), imported into the archive, and
sent when asked (C-STORE, or STOW-RS to a DICOMweb node). Every file is examined before the
order is looked up; one refused file (or an accession the worklist lacks) is exit 2 with
nothing imported."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from viewer.cli import CLIError, config_node, load_config, open_archive

if TYPE_CHECKING:
    from viewer.capture.dicomize import DicomizeReport
    from viewer.capture.order import Order
    from viewer.config import Settings
    from viewer.net.store_scu import SendReport


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "dicomize", help="photos (JPEG, PNG) and PDF documents into DICOM for a patient's order",
        description="A baseline JPEG becomes a VL Photographic Image with its bitstream kept as "
        "it is; a PNG a Secondary Capture Image; a PDF an Encapsulated PDF (at most 64 MiB), "
        "its bytes exactly. Each kind goes into one new series of the order's study. Exit 2, "
        "nothing imported, when any file is refused or the accession is not in the worklist.",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    who = p.add_argument_group("whose and which order (one of)")
    who.add_argument("--worklist", metavar="NODE", help="the worklist node to ask ...")
    who.add_argument("--accession", metavar="A", help="... for the item of this Accession Number")
    who.add_argument("--study", metavar="STUDY_UID", help="a study in the archive")
    who.add_argument("--patient-id", metavar="ID", help="typed: the Patient ID (a new study)")
    who.add_argument("--patient-name", metavar="N", help="typed: Family^Given")
    who.add_argument("--patient-birth-date", metavar="YYYYMMDD", default="")
    who.add_argument("--patient-sex", metavar="M|F|O", default="")
    p.add_argument("--send", metavar="NODE",
                   help="then send the new instances to NODE (C-STORE, or STOW-RS)")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")


def run(args: argparse.Namespace) -> int:
    from viewer.capture.dicomize import DicomizeRefused, dicomize_examined, examine_all

    settings = load_config(args)
    _check_source_flags(args)
    if args.send:
        config_node(settings, args.send)  # a wrong name is exit 2 before anything is made
    try:
        examined = examine_all(args.files)
    except DicomizeRefused as exc:
        for refused in exc.refused:
            print(f"dicom-viewer dicomize: {refused}", file=sys.stderr)
        return 2
    order = _order(args, settings)
    with open_archive(args, settings) as archive:
        report = dicomize_examined(examined, order, archive)
        files = [archive.store.absolute(i.store_path) for i in report.instances if i.store_path]
    sent = _send(args, settings, files) if args.send and files else None
    _print(args, order, report, sent)
    failed = bool(report.failed) or (sent is not None and not sent.ok)
    return 1 if failed else 0


def _check_source_flags(args: argparse.Namespace) -> None:
    chosen = [name for name, given in (
        ("--worklist/--accession", args.worklist or args.accession),
        ("--study", args.study),
        ("--patient-id/--patient-name", args.patient_id or args.patient_name),
    ) if given]
    if len(chosen) != 1:
        raise CLIError("give one of --worklist NODE --accession A, --study STUDY_UID, "
                       "--patient-id ID --patient-name N")
    if bool(args.worklist) != bool(args.accession):
        raise CLIError("--worklist NODE and --accession A go together")
    if bool(args.patient_id) != bool(args.patient_name):
        raise CLIError("--patient-id and --patient-name go together (both are required)")


def _order(args: argparse.Namespace, settings: Settings) -> Order:
    from viewer.capture.order import OrderError, order_from_study, typed_order

    try:
        if args.worklist:
            return _worklist_order(settings, args.worklist, args.accession)
        if args.study:
            with open_archive(args) as archive:
                return order_from_study(archive, args.study)
        return typed_order(args.patient_id, args.patient_name, args.patient_birth_date,
                           args.patient_sex)
    except OrderError as exc:
        raise CLIError(str(exc)) from None


def _worklist_order(settings: Settings, node_name: str, accession: str) -> Order:
    """The order of the worklist item with this Accession Number (C-FIND on it). Several
    steps of one accession share its study: the first is taken; steps naming different
    studies are ambiguous (exit 2)."""
    from viewer.capture.order import order_from_worklist
    from viewer.net.association import Local, PeerError
    from viewer.net.worklist import query_worklist

    node = config_node(settings, node_name)
    try:
        report = query_worklist(node, Local(settings.local, settings.network),
                                {"AccessionNumber": accession})
    except PeerError as exc:
        raise CLIError(str(exc)) from None
    items = [i for i in report.items if i.accession_number == accession]
    if not items:
        raise CLIError(f"accession {accession}: not in the worklist of {report.peer}")
    if len({i.study_instance_uid for i in items}) > 1:
        raise CLIError(f"accession {accession}: {len(items)} worklist items of {report.peer} "
                       "name different studies")
    return order_from_worklist(items[0])


def _send(args: argparse.Namespace, settings: Settings, files: list[Path]) -> SendReport:
    from viewer.net.association import Local, PeerError
    from viewer.net.store_scu import SendInterrupted
    from viewer.net.transport import send

    try:  # C-STORE, or STOW-RS to a DICOMweb node
        return send(config_node(settings, args.send), Local(settings.local, settings.network),
                    files)
    except SendInterrupted as exc:
        return exc.report
    except PeerError as exc:  # imported already: say so, and that the send failed
        print(f"dicom-viewer dicomize: imported, but not sent: {exc}", file=sys.stderr)
        from viewer.net.store_scu import SendReport

        return SendReport(exc.peer, (), 0.0, str(exc), tuple(str(f) for f in files))


def _print(args: argparse.Namespace, order: Order, report: DicomizeReport,
           sent: SendReport | None) -> None:
    for warning in report.warnings:
        print(f"dicom-viewer dicomize: {warning}", file=sys.stderr)
    for failure in report.failed:
        print(f"dicom-viewer dicomize: {failure.item}: not imported: {failure.reason}",
              file=sys.stderr)
    if sent is not None:
        for r in sent.failed:
            print(f"dicom-viewer dicomize: {r.sop_instance_uid}: not sent: {r.reason}",
                  file=sys.stderr)
    if args.json:
        document: dict[str, Any] = {
            "PatientName": order.patient_name,
            "PatientID": order.patient_id,
            "AccessionNumber": order.accession_number,
            "StudyInstanceUID": report.study_instance_uid,
            "source": order.source,
            "instances": [i.as_json() for i in report.instances],
            "failed": [{"path": f.item, "reason": f.reason} for f in report.failed],
        }
        if sent is not None:
            document["sent"] = {
                "peer": sent.peer,
                "sent": len(sent.succeeded) + len(sent.warnings),
                "failed": len(sent.failed) + len(sent.not_sent),
                "stopped": sent.stopped or None,
            }
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return
    from pydicom.uid import UID

    for i in report.instances:
        print(f"{i.path} -> {UID(i.sop_class_uid).name} {i.sop_instance_uid}")
    print(f"{len(report.instances)} instance(s) for {order.patient_name} ({order.patient_id}) "
          f"in study {report.study_instance_uid}")
    if sent is not None:
        print(f"{sent.peer}: sent {len(sent.succeeded) + len(sent.warnings)}, failed "
              f"{len(sent.failed) + len(sent.not_sent)}")
