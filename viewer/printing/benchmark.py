"""`bench print`: a 3x4 film of twelve 512x512 CT slices on 14INX17IN, printed by us (compose
through the display pipeline + Print Management SCU) against DCMTK printing the same film from
the same images (dcmpsprt renders the film into a stored print job, dcmprscu prints it), to the
same DCMTK dcmprscp, same run. Issue 7 target: <= 2x. DCMTK's processes run with TCP_NODELAY=1
(Debian's DCMTK leaves Nagle's algorithm on otherwise: ~47 ms per request instead of ~4).

Also DCMTK's print SCP for the print tests: `write_dcmprscp_config` and `dcmprscp`.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from viewer.net.benchmark import dcmtk_env, free_port, serving

PRINTER_AE = "PRINTSCP"
LAYOUT = (3, 4)
FILM_SIZE = "14INX17IN"

# The printer section of the dcmpstat config: its IHEFULL example printer, adapted.
DEFAULT_PRINTER: dict[str, str] = {
    "BorderDensity": "150\\20\\BLACK\\WHITE",
    "DisplayFormat": "1,1\\1,2\\2,2\\2,3\\3,3\\3,4\\3,5\\4,4\\4,5",
    "EmptyImageDensity": "20\\BLACK\\WHITE",
    "FilmDestination": "MAGAZINE\\PROCESSOR\\BIN_1\\BIN_2",
    "FilmSizeID": "8INX10IN\\10INX12IN\\10INX14IN\\11INX14IN\\14INX14IN\\14INX17IN\\"
                  "24CMX24CM\\24CMX30CM",
    "MagnificationType": "REPLICATE\\BILINEAR\\CUBIC\\NONE",
    "MaxDensity": "320",
    "MinDensity": "20",
    "MaxPDU": "131072",
    "MediumType": "PAPER\\CLEAR FILM\\BLUE FILM",
    "PresentationLUTMatchRequired": "false",
    "PresentationLUTinFilmSession": "false",
    "ResolutionID": "STANDARD\\HIGH",
    "SmoothingType": "NONE",
    "Supports12Bit": "true",
    "SupportsDecimateCrop": "true",
    "SupportsImageSize": "true",
    "SupportsPresentationLUT": "true",
    "SupportsTrim": "true",
    "Configuration_1": "PRINTER DEFAULT",
}


def write_dcmprscp_config(folder: Path, port: int, *, remote: bool = False,
                          printer: dict[str, str] | None = None) -> Path:
    """A dcmpstat config in `folder` (its log, spool, database and LUT folders made there):
    a LOCALPRINTER "PRT" listening on `port` (for dcmprscp -p PRT), or with `remote` a
    PRINTER "REMOTE" at `port` (for dcmpsprt / dcmprscu -p REMOTE). `printer` overrides
    settings of the printer section (FilmSizeID="8INX10IN", ...)."""
    for name in ("log", "spool", "db", "lut"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    settings = {**DEFAULT_PRINTER, **(printer or {})}
    name, kind = ("REMOTE", "PRINTER") if remote else ("PRT", "LOCALPRINTER")
    lines = [
        "[[GENERAL]]", "[APPLICATION]", f"LogDirectory = {folder / 'log'}",
        "LogFile = general.log", "LogLevel = INFO", "[PRINT]", f"Directory = {folder / 'spool'}",
        "DetailedLog = false", "BinaryLog = false", "[DATABASE]", f"Directory = {folder / 'db'}",
        "[LUT]", f"Directory = {folder / 'lut'}",
        "[[COMMUNICATION]]", f"[{name}]", f"Aetitle = {PRINTER_AE}", "Description = printer",
        "Hostname = localhost", f"Port = {port}", f"Type = {kind}",
        *(f"{key} = {value}" for key, value in settings.items()),
    ]
    path = folder / "dcmpstat.cfg"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def dcmprscp(folder: Path, port: int, **printer: str) -> Iterator[Path]:
    """DCMTK's print SCP on `port` with its own config in `folder`; yields its database
    folder (Hardcopy Grayscale images HG_*.dcm and Stored Print objects SP_*.dcm)."""
    exe = shutil.which("dcmprscp")
    if exe is None:
        raise RuntimeError("dcmprscp not found on PATH (Debian package dcmtk)")
    config = write_dcmprscp_config(folder, port, printer=printer)
    with open(folder / "dcmprscp.log", "wb") as log, \
            serving([exe, "-c", str(config), "-p", "PRT"], port, "dcmprscp", log, folder):
        yield folder / "db"


@dataclass(frozen=True)
class PrintBench:
    images: int
    ours_s: tuple[float, ...]  # compose + print, per pass
    dcmtk_s: tuple[float, ...]  # dcmpsprt + dcmprscu, per pass
    target: float = 2.0

    @property
    def ratio(self) -> float:
        return min(self.ours_s) / min(self.dcmtk_s)

    def summary(self) -> str:
        verdict = "ok" if self.ratio <= self.target else "MISSED"
        return (
            f"print: a {LAYOUT[0]}x{LAYOUT[1]} film of {self.images} 512x512 CT on "
            f"{FILM_SIZE} to dcmprscp, best of {len(self.ours_s)}\n"
            f"DCMTK dcmpsprt + dcmprscu {min(self.dcmtk_s):8.3f} s\n"
            f"ours (compose + print)    {min(self.ours_s):8.3f} s\n"
            f"target ours / DCMTK: {self.ratio:.2f} x <= {self.target:g} x  {verdict}\n"
            f"passes: DCMTK {' '.join(f'{s:.3f}' for s in self.dcmtk_s)} / ours "
            f"{' '.join(f'{s:.3f}' for s in self.ours_s)}"
        )


def measure(workdir: Path, repeat: int = 3) -> PrintBench:
    """Both sides `repeat` times, alternating, against one dcmprscp."""
    from viewer.config import LocalNode, Node
    from viewer.dicom.demo import write_ct_series
    from viewer.net.association import Local
    from viewer.printing.compose import FilmSpec, compose_films, sources_from_frames
    from viewer.printing.film import Layout
    from viewer.printing.scu import print_films

    for tool in ("dcmpsprt", "dcmprscu"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} not found on PATH (Debian package dcmtk)")
    images = LAYOUT[0] * LAYOUT[1]
    files = write_ct_series(workdir / "ct", images, 512, 512)
    port = free_port()
    ours: list[float] = []
    dcmtk: list[float] = []
    with dcmprscp(workdir / "printer", port):
        node = Node("PRINTER", PRINTER_AE, "127.0.0.1", port)
        local = Local(LocalNode("BENCHPRINT"))
        spec = FilmSpec(Layout(*LAYOUT), FILM_SIZE)
        for n in range(repeat):
            started = time.perf_counter()
            composition = compose_films(sources_from_frames([(p, 0) for p in files]), spec)
            result = print_films(node, local, composition)
            ours.append(time.perf_counter() - started)
            if result.films_printed != 1:
                raise RuntimeError(f"we printed {result.films_printed} films, not 1")
            dcmtk.append(_dcmtk_pass(workdir / f"dcmtk-{n}", port, files))
    return PrintBench(images, tuple(ours), tuple(dcmtk))


def _dcmtk_pass(folder: Path, port: int, files: list[Path]) -> float:
    config = write_dcmprscp_config(folder, port, remote=True)
    started = time.perf_counter()
    render = subprocess.run(
        ["dcmpsprt", "-c", str(config), "-p", "REMOTE", "--layout", str(LAYOUT[0]),
         str(LAYOUT[1]), "--filmsize", FILM_SIZE, "--portrait", *map(str, files)],
        env=dcmtk_env(), capture_output=True, text=True, check=False, timeout=120,
    )
    jobs = sorted((folder / "db").glob("SP_*.dcm"))
    if render.returncode != 0 or len(jobs) != 1:
        raise RuntimeError(f"dcmpsprt failed ({render.returncode}): {render.stderr[-300:]}")
    printed = subprocess.run(
        ["dcmprscu", "-c", str(config), "-p", "REMOTE", str(jobs[0])],
        env=dcmtk_env(), capture_output=True, text=True, check=False, timeout=120,
    )
    seconds = time.perf_counter() - started
    if printed.returncode != 0:
        raise RuntimeError(f"dcmprscu failed ({printed.returncode}): {printed.stderr[-300:]}")
    shutil.rmtree(folder)
    return seconds
