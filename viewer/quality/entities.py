"""Attributes of one entity that differ between its files, by dcentvfy (dicom3tools): a Study
Date or Series Number that is not the same in every file of the study or series (PS3.3's
information entities: Patient, Study, Series, Frame of Reference...).

Like dciodvfy, dcentvfy (BSD-3-clause) is only run as an external program, once per study over
the files our reader and dciodvfy could read; it is neither linked nor shipped. What our own
checks say better is left out: patient identity (studies.identity_findings names the odd
series) and duplicate SOP Instance UIDs (studies.duplicate_findings tells copies from clashes).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from pydicom.datadict import dictionary_description, tag_for_keyword

from viewer.quality.files import InstanceFacts
from viewer.quality.findings import ERROR, WARNING, StudyFinding

LOGGER = logging.getLogger(__name__)

TOOL = "dcentvfy"
CONSISTENCY = "consistency"  # StudyFinding.kind of these findings
_TIMEOUT_S = 300.0  # a 5,000-file study takes ~5 s here
_OURS = frozenset({"PatientID", "PatientName", "PatientBirthDate", "PatientSex"})
_LINE = re.compile(
    r"^(?P<severity>Error|Warning) - (?P<what>.*?) - Element=<(?P<keyword>\w+)> "
    r"IE=<(?P<ie>\w+)> for file <(?P<a>.*?)> versus <(?P<b>.*?)>"
    r"(?: Value \d+ <(?P<one>.*?)> versus <(?P<other>.*?)>)?\s*$")


def entity_findings(facts: Iterable[InstanceFacts]) -> list[StudyFinding]:
    """dcentvfy over each study's files (two or more); nothing when it is not installed (the
    IOD check already needs dicom3tools, so it is reported there)."""
    tool = shutil.which(TOOL)
    if tool is None:
        return []
    by_study: dict[str, list[InstanceFacts]] = defaultdict(list)
    for fact in facts:
        by_study[fact.study_instance_uid].append(fact)
    out: list[StudyFinding] = []
    for study_uid, members in by_study.items():
        if len(members) > 1:
            out.extend(_study(tool, study_uid, members))
    return out


def _study(tool: str, study_uid: str, members: list[InstanceFacts]) -> list[StudyFinding]:
    paths = list(dict.fromkeys(f.path for f in members))
    try:
        done = subprocess.run([tool, *paths], capture_output=True, timeout=_TIMEOUT_S,
                              check=False)
    except (subprocess.TimeoutExpired, OSError) as exc:
        LOGGER.debug("dcentvfy on study %s: %r", study_uid, exc)
        return []
    text = (done.stdout + done.stderr).decode("utf-8", "replace")
    series_of = {f.path: f.series_instance_uid for f in members}
    seen: set[tuple[str, str, str]] = set()
    out = []
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match is None or match["keyword"] in _OURS:
            continue
        series = series_of.get(match["a"], "") if match["ie"] == "Series" else ""
        key = (match["keyword"], match["ie"], series)
        if key in seen:  # one line per pair of files: the first pair says it
            continue
        seen.add(key)
        out.append(StudyFinding(ERROR if match["severity"] == "Error" else WARNING, study_uid,
                                series, CONSISTENCY, _message(match)))
    return out


def _message(match: re.Match[str]) -> str:
    tag = tag_for_keyword(match["keyword"])
    name = dictionary_description(tag) if tag is not None else match["keyword"]
    entity = match["ie"].lower() if match["ie"] != "FrameOfReference" else "frame of reference"
    a, b = Path(match["a"]).name, Path(match["b"]).name
    if match["one"] is not None:
        return (f"{name} differs between files of one {entity}: '{match['one']}' in {a} but "
                f"'{match['other']}' in {b}")
    if match["what"].startswith("Attribute present in one instance but not the other"):
        return f"{name} is in one of {a} and {b} but not the other, files of one {entity}"
    return f"{name} ({entity}): {match['what']} ({a} and {b})"
