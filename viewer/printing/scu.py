"""Print Management SCU (PS3.4 Annex H): composed films to a DICOM printer, one association.

The sequence (H.4): Printer N-GET (status shown), Basic Film Session N-CREATE (copies,
priority, medium, destination), optionally a Presentation LUT N-CREATE (shape IDENTITY: our
pixels are P-values already, PS3.4 H.4.9, when the printer accepts the SOP class); then per film
Basic Film Box N-CREATE (display format, orientation, size, magnification, densities, trim,
configuration information) whose answer lists the Image Box instances, an Image Box N-SET per
composed box, Film Box N-ACTION (print) and N-DELETE; last the Film Session N-DELETE. Printer
N-EVENT-REPORTs arriving meanwhile are answered, logged and returned.

Meta SOP classes: the film session, film box, image boxes and printer travel on the presentation
context of the Basic Grayscale (or Color) Print Management Meta SOP Class, each with its own SOP
Class UID as Affected/Requested SOP Class (pynetdicom's `meta_uid` arguments pick the context).

We supply the SOP Instance UIDs of the film session and film boxes in N-CREATE (PS3.7 10.1.5:
the SCU may): pynetdicom does not hand back the Affected SOP Instance UID of a response.

A refused attribute: printers answer 0x0106 (invalid attribute value) and the like without saying
which attribute (DCMTK's dcmprscp does so). We then find it by asking again with the mandatory
attributes and each optional one alone (deleting what such a probe creates), and name it:
"printer refused FilmSizeID 14INX17IN". Only a failed print pays for this.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import generate_uid
from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.presentation import build_context
from pynetdicom.status import (
    PRINT_JOB_MANAGEMENT_SERVICE_CLASS_STATUS,
    STATUS_SUCCESS,
    STATUS_WARNING,
    code_to_category,
)

from viewer.config import Node
from viewer.jobs import CancelToken, ProgressCallback, no_progress
from viewer.net.association import Local, PeerError, associated, describe
from viewer.printing.compose import BoxFailure, ComposedFilm, Composition, PixelDepth
from viewer.printing.film import (
    MAGNIFICATION_TYPES,
    MEDIUM_TYPES,
    PRINT_PRIORITIES,
    check_density,
    check_term,
)

LOGGER = logging.getLogger(__name__)

# SOP classes (PS3.4 H.5, PS3.6 Annex A)
GRAYSCALE_META = "1.2.840.10008.5.1.1.9"
COLOR_META = "1.2.840.10008.5.1.1.18"
FILM_SESSION = "1.2.840.10008.5.1.1.1"
FILM_BOX = "1.2.840.10008.5.1.1.2"
GRAYSCALE_IMAGE_BOX = "1.2.840.10008.5.1.1.4"
COLOR_IMAGE_BOX = "1.2.840.10008.5.1.1.4.1"
PRINTER = "1.2.840.10008.5.1.1.16"
PRINTER_INSTANCE = "1.2.840.10008.5.1.1.17"  # the well-known Printer SOP Instance
PRESENTATION_LUT = "1.2.840.10008.5.1.1.23"
PRINT_JOB = "1.2.840.10008.5.1.1.14"

NONE_ACCEPTED = "the peer accepted none of the presentation contexts"  # viewer.net.association

# Statuses meaning "an attribute or its value was not accepted" (PS3.7 C.4)
ATTRIBUTE_FAILURES = frozenset({0x0105, 0x0106, 0x0116, 0x0120, 0x0121})

# Event Type ID of N-EVENT-REPORTs (PS3.4 H.4.11.2 Printer, H.4.8.2 Print Job)
PRINTER_EVENTS = {1: "NORMAL", 2: "WARNING", 3: "FAILURE"}
PRINT_JOB_EVENTS = {1: "PENDING", 2: "PRINTING", 3: "DONE", 4: "FAILURE"}


def status_text(code: int) -> str:
    """The meaning of a Print Management status code (PS3.4 H.4, PS3.7 C)."""
    entry = PRINT_JOB_MANAGEMENT_SERVICE_CLASS_STATUS.get(code)
    return entry[1] if entry else "unknown status"


@dataclass(frozen=True)
class PrintOptions:
    """Film Session and Film Box attributes; None leaves the printer's default (not sent)."""

    copies: int = 1
    priority: str | None = None  # HIGH, MED, LOW
    medium: str | None = None  # PAPER, CLEAR FILM, BLUE FILM, ...
    destination: str | None = None  # MAGAZINE, PROCESSOR, BIN_i
    session_label: str | None = None
    magnification: str | None = None  # REPLICATE, BILINEAR, CUBIC, NONE
    max_density: int | None = None  # hundredths of OD
    min_density: int | None = None
    border_density: str | None = None  # BLACK, WHITE or hundredths of OD
    empty_image_density: str | None = None
    trim: bool | None = None
    configuration: str | None = None  # Configuration Information, printer specific
    presentation_lut: bool = True  # IDENTITY Presentation LUT when the printer offers it

    def __post_init__(self) -> None:
        if not 1 <= self.copies <= 99:
            raise ValueError(f"copies: {self.copies} is not 1..99")
        for name, terms in (("priority", PRINT_PRIORITIES), ("medium", MEDIUM_TYPES),
                            ("magnification", MAGNIFICATION_TYPES)):
            object.__setattr__(self, name, check_term(getattr(self, name), terms, name))
        for name in ("border_density", "empty_image_density"):
            object.__setattr__(self, name, check_density(getattr(self, name), name))
        for name in ("max_density", "min_density"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 65535:
                raise ValueError(f"{name}: {value} is not 0..65535")

    def session_attributes(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "NumberOfCopies": self.copies, "PrintPriority": self.priority,
            "MediumType": self.medium, "FilmDestination": self.destination,
            "FilmSessionLabel": self.session_label,
        }
        return {k: v for k, v in values.items() if v is not None}

    def film_box_attributes(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "MagnificationType": self.magnification, "MaxDensity": self.max_density,
            "MinDensity": self.min_density, "BorderDensity": self.border_density,
            "EmptyImageDensity": self.empty_image_density,
            "Trim": None if self.trim is None else ("YES" if self.trim else "NO"),
            "ConfigurationInformation": self.configuration,
        }
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class PrinterInfo:
    """Printer N-GET: Printer Status (NORMAL, WARNING, FAILURE) and Printer Status Info."""

    status: str = ""
    status_info: str = ""
    name: str = ""


@dataclass(frozen=True)
class PrintWarning:
    """A warning status a printer answered: what we asked, the code and its meaning."""

    operation: str
    status: int
    message: str

    def __str__(self) -> str:
        return f"{self.operation}: warning 0x{self.status:04X} {self.message}"


@dataclass(frozen=True)
class RefusedValue:
    """A value the printer did not take as asked: it answered with `used` instead."""

    operation: str
    attribute: str
    requested: str
    used: str


@dataclass(frozen=True)
class PrinterEvent:
    """An N-EVENT-REPORT from the printer (Printer or Print Job SOP Class)."""

    sop_class_uid: str
    event_type: int
    name: str  # NORMAL / WARNING / FAILURE, or PENDING / PRINTING / DONE / FAILURE
    status_info: str


@dataclass(frozen=True)
class PrintResult:
    """What a print did: films sent to print, image boxes filled, boxes left empty (their image
    could not be composed), films not printed because none of their images could be, the
    printer's warnings, values it changed, its events."""

    peer: str
    printer: PrinterInfo
    films: int
    films_printed: int
    boxes: int
    empty_boxes: tuple[BoxFailure, ...] = ()
    films_skipped: tuple[int, ...] = ()
    warnings: tuple[PrintWarning, ...] = ()
    refused: tuple[RefusedValue, ...] = ()
    events: tuple[PrinterEvent, ...] = ()
    presentation_lut: bool = False
    seconds: float = 0.0
    film_box_uids: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.films_printed == self.films and not self.empty_boxes


class PrintError(PeerError):
    """The printer refused or failed: `status` its code (None: no answer); `attribute` and
    `value` the refused attribute when known; `result` what was printed before."""

    def __init__(self, peer: str, reason: str, status: int | None = None,
                 attribute: str = "", value: str = "", result: PrintResult | None = None) -> None:
        super().__init__(peer, reason)
        self.status = status
        self.attribute = attribute
        self.value = value
        self.result = result


def print_films(
    node: Node,
    local: Local,
    composition: Composition,
    options: PrintOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PrintResult:
    """Print the films of `composition` on `node` in one film session. Raises PeerError when the
    printer cannot be reached or lacks the Meta SOP Class, PrintError when it refuses."""
    options = options or PrintOptions()
    if not composition.films:
        raise ValueError("nothing to print: no films")
    depth = composition.films[0].spec.depth
    meta = COLOR_META if depth.colour else GRAYSCALE_META
    peer = describe(node)
    contexts = [build_context(meta)]
    if options.presentation_lut and not depth.colour:
        contexts.append(build_context(PRESENTATION_LUT))
    job = _Job(peer, meta, options, progress or no_progress, cancel)
    started = time.perf_counter()
    handlers = [(evt.EVT_N_EVENT_REPORT, job.on_event)]
    refusal = f"the printer does not accept Basic {'Color' if depth.colour else 'Grayscale'} " \
        "Print Management"
    try:
        with associated(node, local, contexts, handlers=handlers) as assoc:
            accepted = {str(cx.abstract_syntax) for cx in assoc.accepted_contexts}
            if meta not in accepted:
                raise PeerError(peer, refusal)
            job.assoc = assoc
            try:
                job.run(composition, PRESENTATION_LUT in accepted)
            except PrintError as exc:
                exc.result = job.result(composition, time.perf_counter() - started)
                raise
    except PeerError as exc:
        if exc.reason.startswith(NONE_ACCEPTED):  # say which service it lacks
            raise PeerError(peer, refusal) from None
        raise
    return job.result(composition, time.perf_counter() - started)


@dataclass
class _Job:
    peer: str
    meta: str
    options: PrintOptions
    progress: ProgressCallback
    cancel: CancelToken | None
    assoc: Association | None = None
    printer: PrinterInfo = PrinterInfo()
    warnings: list[PrintWarning] = field(default_factory=list)
    refused: list[RefusedValue] = field(default_factory=list)
    events: list[PrinterEvent] = field(default_factory=list)
    film_boxes: list[str] = field(default_factory=list)
    printed: int = 0
    boxes: int = 0
    skipped: list[int] = field(default_factory=list)
    plut: bool = False

    # --- the sequence of H.4 -------------------------------------------------------------

    def run(self, composition: Composition, plut_offered: bool) -> None:
        self.printer = self.get_printer()
        if self.printer.status == "FAILURE":
            raise PrintError(self.peer, f"printer status FAILURE ({self.printer.status_info})")
        session = generate_uid()
        self.create(FILM_SESSION, session, self.options.session_attributes(), {}, "Film Session")
        plut_uid = ""
        if plut_offered and self.options.presentation_lut:
            plut_uid = self.create_identity_lut()
        total = sum(film.images for film in composition.films)
        for number, film in enumerate(composition.films, 1):
            if film.images == 0:
                LOGGER.warning("film %d not printed: none of its images could be composed", number)
                self.skipped.append(number)
                continue
            self.print_film(number, film, session, plut_uid, total)
        self.delete(FILM_SESSION, session, "Film Session")
        if plut_uid:
            self.delete(PRESENTATION_LUT, plut_uid, "Presentation LUT")
        self.progress(total, total, "")

    def get_printer(self) -> PrinterInfo:
        """Printer N-GET of all its attributes (H.4.11.1.1); a refusal is a warning only."""
        status, attrs = self._assoc.send_n_get([], PRINTER, PRINTER_INSTANCE, meta_uid=self.meta)
        code = self.status_of(status, "Printer N-GET")
        if attrs is None or code != 0x0000:
            if code != 0x0000 and code_to_category(code) != STATUS_WARNING:
                self.warnings.append(PrintWarning("Printer N-GET", code, status_text(code)))
            return PrinterInfo()
        info = PrinterInfo(str(attrs.get("PrinterStatus", "") or ""),
                           str(attrs.get("PrinterStatusInfo", "") or ""),
                           str(attrs.get("PrinterName", "") or ""))
        LOGGER.info("%s: printer status %s (%s)", self.peer, info.status, info.status_info)
        if info.status == "WARNING":
            self.warnings.append(PrintWarning("Printer N-GET", 0x0000,
                                              f"printer status WARNING: {info.status_info}"))
        return info

    def create_identity_lut(self) -> str:
        uid = generate_uid()
        ds = Dataset()
        ds.PresentationLUTShape = "IDENTITY"
        status, _ = self._assoc.send_n_create(ds, PRESENTATION_LUT, uid)
        code = self.status_of(status, "Presentation LUT N-CREATE")
        if code_to_category(code) not in (STATUS_SUCCESS, STATUS_WARNING):
            # optional: the film prints without it, our P-values then go as they are
            LOGGER.info("%s: Presentation LUT refused (0x%04X)", self.peer, code)
            return ""
        self.plut = True
        return uid

    def print_film(self, number: int, film: ComposedFilm, session: str, plut_uid: str,
                   total: int) -> None:
        spec = film.spec
        film_box = generate_uid()
        required: dict[str, Any] = {
            "ReferencedFilmSessionSequence": [_reference(FILM_SESSION, session)],
            "ImageDisplayFormat": spec.layout.display_format,
        }
        optional: dict[str, Any] = {
            "FilmOrientation": spec.orientation.value, "FilmSizeID": spec.film_size,
            **self.options.film_box_attributes(),
        }
        if plut_uid:
            optional["ReferencedPresentationLUTSequence"] = [
                _reference(PRESENTATION_LUT, plut_uid)]
        what = f"Film Box N-CREATE (film {number})"
        answer = self.create(FILM_BOX, film_box, optional, required, what)
        self.film_boxes.append(film_box)
        boxes = list(answer.get("ReferencedImageBoxSequence", []))
        if len(boxes) != spec.layout.count:
            raise PrintError(self.peer, f"{what}: the printer made {len(boxes)} image boxes "
                             f"for layout {spec.layout} ({spec.layout.count})")
        colour = spec.depth.colour
        for box in film.boxes:
            if box.pixels is None:
                continue
            if self.cancel is not None:
                self.cancel.raise_if_cancelled()
            self.progress(self.boxes, total, box.source.name if box.source else "")
            ref = boxes[box.position - 1]
            ds = image_box_dataset(box.position, box.pixels, spec.depth)
            status, _ = self._assoc.send_n_set(
                ds, ref.ReferencedSOPClassUID if "ReferencedSOPClassUID" in ref else
                (COLOR_IMAGE_BOX if colour else GRAYSCALE_IMAGE_BOX),
                ref.ReferencedSOPInstanceUID, meta_uid=self.meta)
            self.check(status, f"Image Box N-SET (film {number}, box {box.position})")
            self.boxes += 1
        status, _ = self._assoc.send_n_action(None, 1, FILM_BOX, film_box, meta_uid=self.meta)
        self.check(status, f"Film Box N-ACTION print (film {number})")
        self.printed += 1
        self.delete(FILM_BOX, film_box, f"Film Box N-DELETE (film {number})")

    # --- DIMSE helpers -------------------------------------------------------------------

    @property
    def _assoc(self) -> Association:
        assert self.assoc is not None
        return self.assoc

    def status_of(self, status: Dataset, operation: str) -> int:
        if "Status" not in status:
            raise PrintError(self.peer, f"no answer to {operation} (time-out or aborted)")
        return int(status.Status)

    def check(self, status: Dataset, operation: str) -> int:
        """The status code; a warning is recorded, a failure raised as PrintError."""
        code = self.status_of(status, operation)
        category = code_to_category(code)
        comment = str(status.get("ErrorComment", "") or "")
        message = status_text(code) + (f": {comment}" if comment else "")
        if category == STATUS_WARNING:
            LOGGER.warning("%s: %s: warning 0x%04X %s", self.peer, operation, code, message)
            self.warnings.append(PrintWarning(operation, code, message))
        elif category != STATUS_SUCCESS:
            raise PrintError(self.peer, f"{operation} refused: 0x{code:04X} {message}", code)
        return code

    def create(self, class_uid: str, uid: str, optional: dict[str, Any],
               required: dict[str, Any], operation: str) -> Dataset:
        """N-CREATE with our instance UID; a refused attribute is found and named."""
        status, answer = self._assoc.send_n_create(
            _dataset({**required, **optional}), class_uid, uid, meta_uid=self._meta_for(class_uid))
        code = self.status_of(status, operation)
        if code in ATTRIBUTE_FAILURES:
            keyword = self.find_refused(class_uid, required, optional)
            if keyword:
                value = _text({**required, **optional}[keyword])
                raise PrintError(
                    self.peer, f"printer refused {keyword} {value} ({operation}: 0x{code:04X} "
                    f"{status_text(code)})", code, keyword, value)
        self.check(status, operation)
        answer = answer if answer is not None else Dataset()
        self.note_changes(operation, optional, answer)
        return answer

    def find_refused(self, class_uid: str, required: dict[str, Any],
                     optional: dict[str, Any]) -> str:
        """The attribute the printer refuses: the mandatory ones alone, then each optional one
        added alone (what a probe creates is deleted again). "" when none fails alone."""
        meta = self._meta_for(class_uid)
        trials: list[tuple[str, dict[str, Any]]] = []
        if required:
            named = [k for k in required if not k.endswith("Sequence")]
            trials.append((named[0] if named else "", dict(required)))
        trials += [(keyword, {**required, keyword: value}) for keyword, value in optional.items()]
        for keyword, attributes in trials:
            probe = generate_uid()
            status, _ = self._assoc.send_n_create(_dataset(attributes), class_uid, probe,
                                                  meta_uid=meta)
            code = int(status.get("Status", 0xFFFF))
            if code_to_category(code) not in (STATUS_SUCCESS, STATUS_WARNING):
                return keyword
            self._assoc.send_n_delete(class_uid, probe, meta_uid=meta)
        return ""

    def note_changes(self, operation: str, asked: dict[str, Any], answer: Dataset) -> None:
        """Values the printer answered differently from what we asked (it may, with 0x0116)."""
        for keyword, value in asked.items():
            if keyword.endswith("Sequence") or keyword not in answer:
                continue
            used = _text(answer[keyword].value)
            if used.strip().upper() != _text(value).strip().upper():
                self.refused.append(RefusedValue(operation, keyword, _text(value), used))

    def delete(self, class_uid: str, uid: str, operation: str) -> None:
        status = self._assoc.send_n_delete(class_uid, uid, meta_uid=self._meta_for(class_uid))
        self.check(status, operation)

    def _meta_for(self, class_uid: str) -> str | None:
        return None if class_uid == PRESENTATION_LUT else self.meta

    # --- N-EVENT-REPORT ------------------------------------------------------------------

    def on_event(self, event: evt.Event) -> tuple[int, Dataset | None]:
        """A Printer or Print Job N-EVENT-REPORT (H.4.11.2, H.4.8.2): logged and kept."""
        request = event.request
        class_uid = str(getattr(request, "AffectedSOPClassUID", "") or "")
        event_type = int(getattr(request, "EventTypeID", 0) or 0)
        try:
            info = event.event_information
        except Exception:  # an undecodable Event Information: the event itself still counts
            info = Dataset()
        names = PRINT_JOB_EVENTS if class_uid == PRINT_JOB else PRINTER_EVENTS
        name = names.get(event_type, f"event {event_type}")
        detail = str(info.get("PrinterStatusInfo", "") or info.get("ExecutionStatusInfo", "")
                     or "")
        LOGGER.warning("%s: printer event %s %s", self.peer, name, detail)
        self.events.append(PrinterEvent(class_uid, event_type, name, detail))
        return 0x0000, None

    def result(self, composition: Composition, seconds: float) -> PrintResult:
        return PrintResult(
            peer=self.peer, printer=self.printer, films=len(composition.films),
            films_printed=self.printed, boxes=self.boxes, empty_boxes=composition.failures,
            films_skipped=tuple(self.skipped), warnings=tuple(self.warnings),
            refused=tuple(self.refused), events=tuple(self.events),
            presentation_lut=self.plut, seconds=seconds, film_box_uids=tuple(self.film_boxes),
        )


def _reference(class_uid: str, instance_uid: str) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID = class_uid
    ref.ReferencedSOPInstanceUID = instance_uid
    return ref


def _dataset(attributes: dict[str, Any]) -> Dataset | None:
    if not attributes:
        return None  # an empty data set is "no attribute list" (pynetdicom would send nothing)
    ds = Dataset()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def _text(value: object) -> str:
    if isinstance(value, (list, tuple, MultiValue)):
        return "\\".join(str(v) for v in value)
    return str(value)


def image_box_dataset(position: int, pixels: np.ndarray, depth: PixelDepth) -> Dataset:
    """The N-SET data set of one image box: Image Box Position and the Basic Grayscale Image
    Sequence (8 bits, or 12 in 16) or Basic Color Image Sequence (RGB, colour-by-plane as
    PS3.3 C.13.5.1 requires)."""
    item = Dataset()
    item.Rows, item.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    item.PixelAspectRatio = [1, 1]
    item.PixelRepresentation = 0
    if depth is PixelDepth.RGB:
        item.SamplesPerPixel = 3
        item.PhotometricInterpretation = "RGB"
        item.PlanarConfiguration = 1
        item.BitsAllocated, item.BitsStored, item.HighBit = 8, 8, 7
        data = np.ascontiguousarray(np.moveaxis(pixels.astype(np.uint8), 2, 0)).tobytes()
        vr = "OB"
    else:
        item.SamplesPerPixel = 1
        item.PhotometricInterpretation = "MONOCHROME2"
        if depth is PixelDepth.GRAY12:
            item.BitsAllocated, item.BitsStored, item.HighBit = 16, 12, 11
            data = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
            vr = "OW"
        else:
            item.BitsAllocated, item.BitsStored, item.HighBit = 8, 8, 7
            data = np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()
            vr = "OB"
    if len(data) % 2:
        data += b"\0"
    item.add_new(0x7FE00010, vr, data)
    ds = Dataset()
    ds.ImageBoxPosition = position
    if depth is PixelDepth.RGB:
        ds.BasicColorImageSequence = [item]
    else:
        ds.BasicGrayscaleImageSequence = [item]
    return ds

