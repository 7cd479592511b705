"""What validation finds: small frozen values shared by `validate`, the import and the browser.

`Finding` belongs to one file (an attribute of it); `StudyFinding` to a series or a study (a
consistency problem across files). Severity follows dciodvfy: what the standard requires and
the file breaks is an error; what is dubious but allowed is a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]
ERROR: Severity = "error"
WARNING: Severity = "warning"

# `StudyFinding.kind`: the consistency check that found it (CLI.md's `validate` JSON).
IDENTITY = "identity"  # patient ID, name, birth date or sex differ between files of a study
DUPLICATE = "duplicate"  # one SOP Instance UID in several files
GAP = "gap"  # slices missing from a series
SPACING = "spacing"  # uneven steps between slices, or slices sharing a position
ORIENTATION = "orientation"  # more than one Image Orientation (Patient) in a series
FRAME_OF_REFERENCE = "frame-of-reference"  # more than one Frame of Reference UID in a series
PIXEL_SPACING = "pixel-spacing"  # images without Pixel Spacing: lengths would be in pixels


@dataclass(frozen=True)
class Finding:
    """One problem of one file: `tag` "(gggg,eeee)" and `keyword` of the attribute ("" when the
    problem is the whole file), the IOD `module` it belongs to ("" when not known), `message`
    for a radiologist or PACS administrator, and `detail`: dciodvfy's own words ("" for ours)."""

    severity: Severity
    tag: str
    keyword: str
    module: str
    message: str
    detail: str = ""

    def as_json(self) -> dict[str, str]:
        return {"severity": self.severity, "tag": self.tag, "keyword": self.keyword,
                "module": self.module, "message": self.message, "detail": self.detail}


@dataclass(frozen=True)
class FileResult:
    """A file and its findings; `iod` is dciodvfy's name of the IOD it was checked against
    ("" when it was not: unreadable, or a SOP class dciodvfy does not know)."""

    path: str
    sop_instance_uid: str
    sop_class_uid: str
    iod: str
    findings: tuple[Finding, ...] = ()

    @property
    def errors(self) -> int:
        return sum(f.severity == ERROR for f in self.findings)

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "SOPInstanceUID": self.sop_instance_uid,
                "SOPClassUID": self.sop_class_uid, "iod": self.iod,
                "findings": [f.as_json() for f in self.findings]}


@dataclass(frozen=True)
class StudyFinding:
    """A consistency problem across files: of a series (`series_instance_uid` set) or of a
    whole study (`series_instance_uid` "")."""

    severity: Severity
    study_instance_uid: str
    series_instance_uid: str
    kind: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"severity": self.severity, "StudyInstanceUID": self.study_instance_uid,
                "SeriesInstanceUID": self.series_instance_uid, "kind": self.kind,
                "message": self.message}


@dataclass(frozen=True)
class ValidationReport:
    """Every file given, in the order given, and the study findings over them; `cancelled`
    when the user stopped it (then `files` holds those done, and the study findings are over
    those alone)."""

    files: tuple[FileResult, ...] = ()
    study_findings: tuple[StudyFinding, ...] = ()
    cancelled: bool = False

    @property
    def errors(self) -> int:
        return (sum(f.errors for f in self.files)
                + sum(s.severity == ERROR for s in self.study_findings))

    def as_json(self) -> dict[str, Any]:
        return {"files": [f.as_json() for f in self.files],
                "study_findings": [s.as_json() for s in self.study_findings],
                "cancelled": self.cancelled}
