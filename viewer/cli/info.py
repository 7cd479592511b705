"""`dicom-viewer info FILE [--json]`: a header summary, text decoded with its character set."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from viewer.cli import CLIError

if TYPE_CHECKING:
    from viewer.dicom.records import HeaderSummary


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "info",
        help="header summary of one DICOM file",
        description="Patient, study, series, SOP class, transfer syntax and geometry of one file "
        "(pixel data is not read). Names and descriptions are decoded with the file's Specific "
        "Character Set; misspelt or invalid character sets are reported as warnings.",
    )
    p.add_argument("file", type=Path, help="DICOM file")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")


def run(args: argparse.Namespace) -> int:
    # pydicom is imported here, not at module level, so `dicom-viewer --help` stays fast.
    from viewer.dicom.files import DicomFileError  # noqa: PLC0415
    from viewer.dicom.records import read_header  # noqa: PLC0415

    try:
        summary = read_header(args.file)
    except DicomFileError as exc:
        raise CLIError(f"{exc.path}: {exc.reason}") from None
    if args.json:
        json.dump(summary.as_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(human_text(summary))
    return 0


def human_text(summary: HeaderSummary) -> str:
    """The summary as aligned 'label  value' lines; empty values are left out."""
    p, st, se, i, g = (
        summary.patient, summary.study, summary.series, summary.instance, summary.geometry
    )
    rows: list[tuple[str, str]] = [("File", summary.path)]
    rows += [
        ("Patient", p.name_text or "(no name)"),
        ("  ID", p.patient_id),
        ("  Birth date", p.birth_date_text),
        ("  Sex", p.sex),
        ("Study", st.study_description or "(no description)"),
        ("  Date", f"{st.date_text} {st.time_text}".strip()),
        ("  Accession", st.accession_number),
        ("  Referring", st.referring_physician_text),
        ("  Study UID", st.study_instance_uid),
        ("Series", _series_title(se.series_number, se.modality, se.series_description)),
        ("  Series UID", se.series_instance_uid),
        ("Instance", f"#{i.instance_number}" if i.instance_number is not None else "-"),
        ("  SOP class", _named(i.sop_class_name, i.sop_class_uid)),
        ("  SOP instance", i.sop_instance_uid),
        ("  Transfer syntax", _named(i.transfer_syntax_name, i.transfer_syntax_uid)),
        ("  Image", _image_line(summary)),
        ("Geometry", g.plane or "-"),
        ("  Pixel spacing", _mm(g.pixel_spacing, "row x column")),
        ("  Imager spacing", _mm(g.imager_pixel_spacing, "row x column")),
        ("  Calibration", _calibration(summary)),
        ("  Slice thickness", _mm((g.slice_thickness,) if g.slice_thickness else None)),
        ("  Position", _mm(g.image_position, "x y z")),
        ("  Orientation", _numbers(g.image_orientation)),
        ("  Edges", _edges(summary)),
        ("  Slice location", _mm((g.slice_location,) if g.slice_location is not None else None)),
        ("  Frame of ref.", g.frame_of_reference_uid),
        ("SUVbw", _suv(summary)),
        ("Character set", "\\".join(summary.specific_character_set) or "default (ISO_IR 6)"),
    ]
    shown = [(label, value) for label, value in rows if value]
    width = max(len(label) for label, _ in shown) + 2
    lines = [f"{label:<{width}}{value}" for label, value in shown]
    if summary.warnings:
        lines.append(f"Warnings ({len(summary.warnings)})")
        lines += [f"  - {w}" for w in summary.warnings]
    return "\n".join(lines) + "\n"


def _series_title(number: int | None, modality: str, description: str) -> str:
    parts = [f"#{number}" if number is not None else "", modality, description]
    return " ".join(p for p in parts if p) or "-"


def _named(name: str, uid: str) -> str:
    if not uid:
        return ""
    return f"{name} ({uid})" if name else uid


def _image_line(summary: HeaderSummary) -> str:
    i = summary.instance
    parts = []
    if i.columns and i.rows:
        parts.append(f"{i.columns} x {i.rows} (columns x rows)")
    parts.append(f"{i.number_of_frames} frame{'s' if i.number_of_frames != 1 else ''}")
    if i.photometric_interpretation:
        parts.append(i.photometric_interpretation)
    if i.bits_allocated:
        parts.append(f"{i.bits_stored or i.bits_allocated} of {i.bits_allocated} bits")
    if i.lossy_compression is not None:
        parts.append("lossy compressed" if i.lossy_compression else "not lossy compressed")
    return ", ".join(parts)


def _numbers(values: tuple[float, ...] | None) -> str:
    return "" if values is None else " ".join(f"{v:g}" for v in values)


def _mm(values: tuple[float, ...] | None, what: str = "") -> str:
    if values is None:
        return ""
    text = " x ".join(f"{v:g}" for v in values) if what != "x y z" else _numbers(values)
    return f"{text} mm" + (f" ({what})" if what else "")


def _calibration(summary: HeaderSummary) -> str:
    """The calibration lengths use and its scale (Calibration.describe); a cross-sectional
    image's plain Pixel Spacing is the line above, so it is not repeated."""
    from viewer.dicom.calibration import Basis  # noqa: PLC0415 - as pydicom, when run

    c = summary.calibration
    if c is None or c.basis is Basis.PIXEL_SPACING:
        return ""
    return c.describe()


def _suv(summary: HeaderSummary) -> str:
    suv = summary.suv
    if suv is None:
        return ""
    if suv.factor is None:
        return f"not available: {suv.reason}"
    decayed = f", dose decayed to {suv.scan_time}" if suv.scan_time else ""
    return f"{suv.factor:.6g} g/ml per Bq/ml{decayed}"


def _edges(summary: HeaderSummary) -> str:
    labels = summary.geometry.edge_labels
    if labels is None:
        return ""
    return f"top {labels.top}, bottom {labels.bottom}, left {labels.left}, right {labels.right}"
