"""Warnings a viewport shows when what it draws depends on a defective attribute: lengths in
pixels because Pixel Spacing is missing, a stack with missing slices or uneven steps, text
that the declared Specific Character Set could not decode.

Computed from the shown stack's headers (its geometry and StackInfo), never from stored
findings, so files opened with `view PATH` are warned about as archive studies are. The
slice check is viewer.quality's, the one the series validation runs.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from viewer.dicom.calibration import Basis, Calibration
from viewer.dicom.stack import SliceGeometry, Stack, StackInfo
from viewer.quality.findings import GAP, SPACING
from viewer.quality.studies import PROJECTION_MODALITIES, slice_spacing_problems


def stack_warnings(stack: Stack) -> list[str]:
    """Warnings over the whole stack: missing slices, uneven steps (as the series check sees
    them: a stack in more than one orientation is not checked), undecodable text."""
    out = []
    frames = [g for g in stack.geometry if g is not None and g.position is not None]
    orientations = {g.orientation for g in frames if g.orientation is not None}
    if len(orientations) == 1:
        positions = list(dict.fromkeys(g.position for g in frames if g.position is not None))
        kinds = {kind for kind, _ in slice_spacing_problems(positions, orientations.pop())}
        if GAP in kinds:
            out.append(QCoreApplication.translate(
                "ViewportWarnings",
                "Slices missing in this series: distances across slices and reformats are wrong"))
        if SPACING in kinds:
            out.append(QCoreApplication.translate(
                "ViewportWarnings",
                "Uneven slice spacing: distances across slices and reformats are distorted"))
    return [*out, *text_warnings(stack.info)]


def text_warnings(info: StackInfo) -> list[str]:
    """One line per text of the annotations the declared Specific Character Set could not
    decode (PS3.5 6.1): the name shown may be mojibake."""
    text = QCoreApplication.translate(
        "ViewportWarnings", "%1 may be shown wrongly: not in its declared character set")
    return [text.replace("%1", _attribute_name(line.split(":", 1)[0]))
            for line in info.text_warnings]


def _attribute_name(keyword: str) -> str:
    """"Patient's Name" for PatientName: the standard's name, as a reader knows it."""
    from pydicom.datadict import dictionary_description, tag_for_keyword

    tag = tag_for_keyword(keyword)
    return dictionary_description(tag) if tag is not None else keyword


def frame_warnings(stack: Stack, geometry: SliceGeometry | None,
                   calibration: Calibration) -> list[str]:
    """Warnings for the frame shown: lengths in pixels where the image is one that is
    measured in millimetres (cross-sectional, or projection radiography)."""
    cross_sectional = geometry is not None and geometry.orientation is not None
    measured = cross_sectional or stack.info.modality in PROJECTION_MODALITIES
    if measured and calibration.basis is Basis.NONE:
        return [QCoreApplication.translate(
            "ViewportWarnings", "Pixel Spacing missing: lengths and areas are in pixels, not mm")]
    return []


class StackWarnings:
    """stack_warnings of the shown stack, computed once per stack (a series of 1,000 slices
    is sorted once, not at every scroll); a completed stack is a new one."""

    def __init__(self) -> None:
        self._stack: Stack | None = None
        self._frames = 0
        self._warnings: list[str] = []

    def of(self, stack: Stack) -> list[str]:
        if stack is not self._stack or len(stack.frames) != self._frames:
            self._stack, self._frames = stack, len(stack.frames)
            self._warnings = stack_warnings(stack)
        return list(self._warnings)
