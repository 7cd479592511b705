"""One file against its IOD with dciodvfy (David Clunie's dicom3tools), its report parsed into
our findings with messages a radiologist or PACS administrator reads.

dicom3tools is BSD-3-clause (Debian's copyright file); we only RUN `dciodvfy` as an external
program, one process per file: we neither link it nor ship it. Its IODs and modules are compiled
in, so it needs no network (`dicom-validator` downloads the standard first and cannot serve).
`-new` prints each problem as `Error|Warning - </Keyword(gggg,eeee)[n]/...> - text - Module=<M>`.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pydicom.datadict import dictionary_description, dictionary_VR, keyword_for_tag

from viewer.quality.findings import ERROR, WARNING, Finding, Severity

LOGGER = logging.getLogger(__name__)

TOOL = "dciodvfy"
# A CT header takes ~10 ms; a file it loops on must not stall the batch.
_TIMEOUT_S = 60.0

_LINE = re.compile(r"^(?P<severity>Error|Warning) - (?:</(?P<path>[^>]*)> - )?(?P<text>.*)$")
_STEP = re.compile(r"(?P<keyword>\w*)\((?P<group>[0-9a-fA-F]{4}),(?P<element>[0-9a-fA-F]{4})"
                   r"(?:,\"[^\"]*\")?\)(?:\[(?P<item>\d+)\])?$")
_MODULE = re.compile(r"\s*-?\s*Module=<(?P<module>[^>]*)>\s*$")
_IOD = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
# What dciodvfy says when it could not read the file to its end: the rest is about part of it.
_PARSE_FAILURES = ("read failed", "Seek failed", "giving up")
_UNKNOWN_IOD = "Information Object Not found"
_VM_COUNTED = "Bad attribute Value Multiplicity = "
_VM_BARE = "Bad attribute Value Multiplicity for"


class ToolMissing(RuntimeError):
    """dciodvfy is not installed (Debian package dicom3tools)."""


@dataclass(frozen=True)
class IODCheck:
    """dciodvfy's verdict on one file: the `iod` it used ("" when none), the findings, and
    `unparsed`: its words when it could not read the whole file ("" when it could)."""

    iod: str
    findings: tuple[Finding, ...]
    unparsed: str = ""
    unknown_sop_class: bool = False


def tool_path() -> str:
    """The dciodvfy executable; ToolMissing naming the package when it is not on PATH."""
    path = shutil.which(TOOL)
    if path is None:
        raise ToolMissing(f"{TOOL} not found on PATH (Debian package dicom3tools)")
    return path


def check_file(path: Path, tool: str | None = None) -> IODCheck:
    """Run `dciodvfy -new` on `path` and parse what it says (PS3.3 IODs, PS3.5 VRs)."""
    command = [tool or tool_path(), "-new", str(path)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return IODCheck("", (), unparsed=f"{TOOL} did not finish within {_TIMEOUT_S:.0f} s")
    text = (done.stdout + done.stderr).decode("utf-8", "replace")
    if done.returncode < 0 or done.returncode >= 128 or "Assertion" in text:
        # killed by a signal (an assertion in its reader): what it printed is not a verdict
        assertion = re.search(r"Assertion `(?P<what>[^']*)' failed", text)
        why = (f"a check in its reader failed: {assertion['what']}" if assertion
               else f"exit status {done.returncode}")
        return IODCheck("", (), unparsed=f"{TOOL} stopped on it ({why})")
    return parse_report(text)


def parse_report(text: str) -> IODCheck:
    """Findings from dciodvfy's `-new` report; duplicates (one per bad character) merged."""
    iod = ""
    findings: list[tuple[Finding, str]] = []
    seen: set[tuple[str, str, str]] = set()
    unparsed = ""
    unknown = False
    for raw in text.splitlines():
        line = raw.rstrip()
        if _IOD.match(line):
            iod = _spaced(line)
            continue
        match = _LINE.match(line)
        if match is None:
            continue  # a continuation of the previous message: its first line says enough
        body = match["text"]
        if match["path"] is None and any(word in body for word in _PARSE_FAILURES):
            unparsed = unparsed or body
            continue
        if match["path"] is None and body.startswith(_UNKNOWN_IOD):
            unknown = True
            continue
        finding = _finding(match["severity"], match["path"] or "", body, iod)
        key = (finding.severity, finding.tag + (match["path"] or ""), finding.message)
        if key not in seen:
            seen.add(key)
            findings.append((finding, body))
    return IODCheck(iod, tuple(_without_repeats(findings)), unparsed, unknown)


def _without_repeats(said: list[tuple[Finding, str]]) -> list[Finding]:
    """dciodvfy reports a bad Value Multiplicity twice, once with the counts (dictionary) and
    once without (module): keep the one that says the counts."""
    counted = {f.tag for f, text in said if text.startswith(_VM_COUNTED)}
    return [f for f, text in said if f.tag not in counted or not text.startswith(_VM_BARE)]


def _finding(severity_word: str, path: str, body: str, iod: str) -> Finding:
    severity: Severity = ERROR if severity_word == "Error" else WARNING
    module_match = _MODULE.search(body)
    module = _spaced(module_match["module"]) if module_match else ""
    text = body[: module_match.start()] if module_match else body
    steps = [s for s in path.split("/") if s]
    tag, keyword, name = "", "", ""
    step = _STEP.match(steps[-1]) if steps else None
    if step is not None:
        value = int(step["group"] + step["element"], 16)
        tag = f"({step['group'].upper()},{step['element'].upper()})"
        keyword = step["keyword"] or keyword_for_tag(value) or ""
        name = _description(value) or keyword or f"private attribute {tag}"
    where = _within(steps[:-1])
    subject = f"{name}{where}"
    message = _message(subject, text.strip(), module, iod, tag)
    said = f"{severity_word} - </{path}> - {body}" if path else f"{severity_word} - {body}"
    return Finding(severity, tag, keyword, module, message, said)


def _message(subject: str, text: str, module: str, iod: str, tag: str) -> str:
    """dciodvfy's text as a sentence about the attribute; its text itself when we have no
    better wording (the finding's `detail` keeps it word for word anyway)."""
    if not tag:  # about the whole file: dciodvfy's sentence is all there is
        return text
    in_module = f"the {module} module" if module else "its module"
    type_match = re.match(r"(Missing attribute|Empty attribute \(no value\)) for Type "
                          r"(?P<type>\w+) (Required|Conditional)", text)
    if type_match:
        kind = type_match["type"]
        if text.startswith("Missing"):
            need = "even if empty" if kind.startswith("2") else "with a value"
            when = " in this case" if kind.endswith("C") else ""
            return f"{subject} is missing: {in_module} requires it{when}, {need} (Type {kind})"
        return f"{subject} is empty: {in_module} requires a value (Type {kind})"
    enum = re.match(r"Unrecognized enumerated value = <(?P<value>.*)>", text)
    if enum:
        return f"{subject} is '{enum['value']}', not one of the values the standard allows"
    length = re.search(r"Length invalid for this VR = <(?P<n>\d+)> - expected <= (?P<max>\d+)",
                       text)
    vr = re.search(r"Value invalid for this VR \[(?P<vr>\w\w)\] = <(?P<value>.*?)>", text)
    if length and vr:
        return (f"{subject} is {length['n']} characters long: at most {length['max']} are "
                f"allowed ({vr['vr']})")
    if vr:
        return f"{subject} '{vr['value']}' is not a valid {_VR_WORDS.get(vr['vr'], vr['vr'])}"
    multiplicity = re.match(r"Bad attribute Value Multiplicity = <(?P<n>\d+)> \((?P<want>.*?) "
                            r"Required", text)
    if multiplicity:
        return (f"{subject} has {multiplicity['n']} values; the standard requires "
                f"{multiplicity['want']}")
    if text.startswith("Bad attribute Value Multiplicity"):
        return f"{subject} has the wrong number of values for {in_module}"
    if text.startswith("Missing attribute or value that would be needed to build DICOMDIR"):
        return f"{subject} is missing or empty: a CD/DVD index (DICOMDIR) could not list it"
    if text == "Attribute is not present in standard DICOM IOD":
        return f"{subject} is not part of the {iod or 'IOD'} (an extra attribute)"
    if text == "Retired attribute":
        return f"{subject} is retired from the standard"
    if text == "Value is zero":
        return f"{subject} is zero"
    explicit = re.match(r"Explicit value representation doesn't match data dictionary - "
                        r"\[(?P<vr>\w\w)\] Dictionary \[(?P<want>\w\w)\]", text)
    if explicit:
        return f"{subject} is encoded as {explicit['vr']}; the standard's VR is {explicit['want']}"
    term = re.match(r"Unrecognized defined term = <(?P<value>.*)>", text)
    if term:
        return f"{subject} is '{term['value']}', not a term the standard defines for it"
    root = re.match(r"Illegal root for UID = <(?P<value>.*)>", text)
    if root:
        return f"{subject} '{root['value']}' does not begin with a registered UID root"
    present = re.match(r"Attribute present when condition unsatisfied.*for Type (?P<type>\w+)",
                       text)
    if present:
        return (f"{subject} is present although the condition for it is not met "
                f"(Type {present['type']})")
    if text.startswith("is ") or text.startswith("has "):  # dciodvfy's sentence about it
        return f"{subject} {text}"
    return f"{subject}: {text}"


_VR_WORDS = {
    "DA": "date (DA: YYYYMMDD)", "TM": "time (TM: HHMMSS.FFFFFF)",
    "DT": "date and time (DT: YYYYMMDDHHMMSS.FFFFFF&ZZXX)", "UI": "UID (UI: digits and dots)",
    "DS": "decimal number (DS)", "IS": "integer (IS)", "AS": "age (AS: nnnD, nnnW, nnnM, nnnY)",
    "CS": "code string (CS: capitals, digits, space, underscore)",
    "PN": "person name (PN)", "AE": "AE title (AE)",
}


def _within(steps: list[str]) -> str:
    """ " in item 1 of Referenced Series Sequence" for an attribute inside sequences."""
    parts = []
    for step in reversed(steps):
        match = _STEP.match(step)
        if match is None:
            continue
        value = int(match["group"] + match["element"], 16)
        name = _description(value) or match["keyword"] or step
        parts.append(f"item {match['item']} of {name}" if match["item"] else name)
    return f" (in {', in '.join(parts)})" if parts else ""


def _description(tag: int) -> str:
    try:
        dictionary_VR(tag)
        return str(dictionary_description(tag))
    except KeyError:
        return ""


def _spaced(camel: str) -> str:
    """dciodvfy's "RTGeneralPlan" as the standard writes it, "RT General Plan"."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", camel)
