"""Print SCPs for the print tests: DCMTK's dcmprscp (a real Basic Grayscale Print SCP) with its
own config in a temp folder, and a scripted pynetdicom printer for what dcmprscp never does
(warning statuses, N-EVENT-REPORTs, Basic Color Print).

dcmprscp keeps what it printed in its database folder: one Hardcopy Grayscale Image per image
box N-SET (HG_*.dcm) and one Stored Print object per printed film box (SP_*.dcm) whose Film Box
Content Sequence has the film box attributes and whose Image Box Content Sequence maps each
Image Box Position to the Hardcopy Grayscale Image of that box.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from tests.net.peers import LOOPBACK, free_port, stop, wait_listening
from tests.peers import require_tool
from viewer.printing import benchmark as bench

PRINTER_AE = bench.PRINTER_AE
DEFAULT_PRINTER = bench.DEFAULT_PRINTER


@dataclass(frozen=True)
class StoredFilm:
    """One printed film as dcmprscp stored it."""

    display_format: str
    film_size: str
    orientation: str
    film_box: Dataset  # the Film Box Content item
    boxes: dict[int, Dataset]  # Image Box Position -> Hardcopy Grayscale Image
    stored_print: Dataset


@dataclass
class Dcmprscp:
    ae_title: str
    port: int
    folder: Path

    @property
    def database(self) -> Path:
        return self.folder / "db"

    def films(self) -> list[StoredFilm]:
        """The films printed so far, in the order they were printed."""
        hardcopies: dict[str, Dataset] = {}
        for path in self.database.glob("HG_*.dcm"):
            ds = dcmread(path)
            hardcopies[str(ds.SOPInstanceUID)] = ds
        films = []
        prints = [dcmread(p) for p in self.database.glob("SP_*.dcm")]
        prints.sort(key=lambda ds: (str(ds.InstanceCreationDate), str(ds.InstanceCreationTime),
                                    int(str(ds.SOPInstanceUID).rsplit(".", 1)[-1])))
        for sp in prints:
            box_item = sp.FilmBoxContentSequence[0]
            boxes = {}
            for item in sp.ImageBoxContentSequence:
                ref = item.ReferencedImageSequence[0]
                boxes[int(item.ImageBoxPosition)] = hardcopies[str(ref.ReferencedSOPInstanceUID)]
            films.append(StoredFilm(str(box_item.ImageDisplayFormat),
                                    str(box_item.get("FilmSizeID", "")),
                                    str(box_item.get("FilmOrientation", "")), box_item, boxes, sp))
        return films


def write_config(folder: Path, port: int, **printer: str) -> Path:
    """A dcmpstat config with one LOCALPRINTER named PRT (dcmprscp -p PRT)."""
    return bench.write_dcmprscp_config(folder, port, printer=printer)


@contextlib.contextmanager
def run_dcmprscp(folder: Path, **printer: str) -> Iterator[Dcmprscp]:
    """dcmprscp on a free loopback port; `printer` overrides settings of the printer section
    (FilmSizeID="8INX10IN", DisplayFormat="1,1", ...)."""
    exe = require_tool("dcmprscp", "dcmtk")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = write_config(folder, port, **printer)
    log = open(folder / "dcmprscp.log", "wb")  # noqa: SIM115 - closed in finally
    # TCP_NODELAY=1: without it Debian's DCMTK leaves Nagle's algorithm on, and every answer
    # waits ~40 ms for the delayed ACK (measured: 47 ms per N-SET, 3 ms with it)
    env = {**os.environ, "TCP_NODELAY": "1"}
    process = subprocess.Popen([exe, "-c", str(config), "-p", "PRT"], cwd=folder, env=env,
                               stdout=log, stderr=log)
    try:
        wait_listening(port, process, "dcmprscp")
        yield Dcmprscp(PRINTER_AE, port, folder)
    finally:
        stop(process)
        log.close()


# --- a scripted printer (pynetdicom) ----------------------------------------------------------

GRAYSCALE_META = "1.2.840.10008.5.1.1.9"
COLOR_META = "1.2.840.10008.5.1.1.18"
FILM_BOX = "1.2.840.10008.5.1.1.2"
PRINTER = "1.2.840.10008.5.1.1.16"
PRINTER_INSTANCE = "1.2.840.10008.5.1.1.17"


@dataclass
class ScriptedPrinter:
    """What the scripted printer received, and what it answers."""

    port: int
    ae_title: str = "SCRIPTED"
    printer_status: str = "WARNING"
    printer_status_info: str = "FILM TRANSP NRDY"
    set_status: int = 0xB604  # every image box N-SET: image demagnified
    event_on_print: int = 2  # Printer N-EVENT-REPORT sent before answering N-ACTION (WARNING)
    image_boxes: dict[str, Dataset] = field(default_factory=dict)  # box UID -> N-SET data set
    film_boxes: list[Dataset] = field(default_factory=list)
    printed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextlib.contextmanager
def run_scripted_printer(colour: bool = True, **answers: Any) -> Iterator[ScriptedPrinter]:
    """A pynetdicom Print SCP answering warnings and sending Printer N-EVENT-REPORTs."""
    from pynetdicom import AE, evt

    state = ScriptedPrinter(free_port(), **answers)
    box_class = {GRAYSCALE_META: "1.2.840.10008.5.1.1.4", COLOR_META: "1.2.840.10008.5.1.1.4.1"}

    def on_get(event: evt.Event) -> tuple[int, Dataset]:
        ds = Dataset()
        ds.PrinterStatus = state.printer_status
        ds.PrinterStatusInfo = state.printer_status_info
        return 0x0000, ds

    def on_create(event: evt.Event) -> tuple[int, Dataset]:
        request: Any = event.request
        ds = event.attribute_list if request.AttributeList is not None else Dataset()
        if str(request.AffectedSOPClassUID) == FILM_BOX:
            columns, rows = (int(v) for v in str(ds.ImageDisplayFormat).split("\\")[1].split(","))
            meta = str(event.context.abstract_syntax)
            refs = []
            for _ in range(columns * rows):
                ref = Dataset()
                ref.ReferencedSOPClassUID = box_class[meta]
                ref.ReferencedSOPInstanceUID = generate_uid()
                refs.append(ref)
            ds.ReferencedImageBoxSequence = refs
            with state.lock:
                state.film_boxes.append(ds)
        return 0x0000, ds

    def on_set(event: evt.Event) -> tuple[int, Dataset]:
        with state.lock:
            uid = str(getattr(event.request, "RequestedSOPInstanceUID", ""))
            state.image_boxes[uid] = event.modification_list
        return state.set_status, Dataset()

    def on_action(event: evt.Event) -> tuple[int, Dataset | None]:
        info = Dataset()
        info.PrinterStatusInfo = state.printer_status_info
        event.assoc.send_n_event_report(info, state.event_on_print, PRINTER, PRINTER_INSTANCE,
                                        meta_uid=str(event.context.abstract_syntax))
        with state.lock:
            state.printed += 1
        return 0x0000, None

    def on_delete(event: evt.Event) -> int:
        return 0x0000

    ae = AE(ae_title=state.ae_title)
    ae.add_supported_context(GRAYSCALE_META)
    if colour:
        ae.add_supported_context(COLOR_META)
    handlers: list[Any] = [
        (evt.EVT_N_GET, on_get), (evt.EVT_N_CREATE, on_create), (evt.EVT_N_SET, on_set),
        (evt.EVT_N_ACTION, on_action), (evt.EVT_N_DELETE, on_delete),
    ]
    server = ae.start_server((LOOPBACK, state.port), block=False, evt_handlers=handlers)
    assert server is not None
    try:
        yield state
    finally:
        server.shutdown()
