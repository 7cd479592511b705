"""`dicom-viewer bench decode|import|net|print|export|start|gui|volume|presentation|quality|web`:
benchmarks, as ratios against a baseline of the same run. `gui` execs `viewer.gui.benchmark`:
the command line never imports Qt."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from viewer.archive.benchmark import ImportBenchmark
    from viewer.decode.benchmark import DecodeBenchmark


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmarks, as ratios against a baseline measured in the same run",
        description=(
            "decode: a synthetic 512x512 CT series in six transfer syntaxes, decoded by GDCM "
            "(the baseline), by pydicom, by us in one process and by our decode pool; then the "
            "display pipeline, render to PNG and the frame cache's memory. "
            "import: importing a folder of 512x512 CT slices against a dcmread + shutil.copy "
            "loop over the same files, and studies --patient-name over a large index. "
            "net: send of CT slices against DCMTK storescu to the same storescp, listen "
            "receiving from storescu against Orthanc, retrieve --via move against movescu, and "
            "pynetdicom's own receive cost against storescp (listen-floor). "
            "print: a 3x4 CT film against DCMTK dcmpsprt + dcmprscu to dcmprscp. "
            "export: a CD export of a 1,000-slice CT study against cp -r + dcmmkdir. "
            "start: info FILE from a cold start (a new process, the page cache warm, nothing "
            "imported) against python -c pass and python -c 'import pydicom'. "
            "gui: the reading window offscreen on a 1,000-slice CT from the archive: first "
            "image, event-loop stalls during the load, scrolling frame rate, memory. "
            "fuzz: damaged copies of files of every transfer syntax fed to import (folder, "
            "zip, DICOMDIR), check, render -j 2, thumbnails and info for --seconds; each crash "
            "(traceback, warning text, exit 2, hang, inconsistent archive) saved to --crashes. "
            "volume: issue 16's targets on a synthetic 512x512x1000 int16 CT: build from "
            "cached frames against one ndarray.copy(), planes and slabs, a fused PET/CT "
            "frame, MPR memory, 3D on software GL; each row PASS/FAIL against its target. "
            "presentation: issue 17's targets: a GSPS applied to a 512x512 frame, hanging a "
            "6-series CT with 2 priors, opening a 5,000-item SR; each row PASS/FAIL. "
            "quality: issue 19's targets: validate on a CT of --files 512x512 slices (1000) "
            "per file, as a process and in process, against dciodvfy alone; export-images "
            "--format mp4 of a 300-frame CT against ffmpeg encoding the same frames from "
            "PNGs; each row PASS/FAIL. "
            "web: issue 18's targets against Orthanc with its DICOMweb plugin, started here "
            "with --slices CT images (300) stored: WADO-RS retrieve against C-GET, STOW-RS "
            "send against storescu, the memory of a STOW-RS sender (the study and one twice "
            "its size), the first image of a study opened from the DICOMweb node; each row "
            "PASS/FAIL."
        ),
    )
    parser.add_argument(
        "suite",
        choices=["decode", "import", "net", "print", "export", "start", "gui", "fuzz", "volume",
                 "presentation", "quality", "web"],
        help="which benchmark"
    )
    parser.add_argument(
        "--peer-pdu", type=int, default=16384,
        help="net: storescp's maximum receive PDU, the same for storescu and us (16384)",
    )
    parser.add_argument(
        "--slices", type=int,
        help="slices in the series (decode: 300, gui: 1000, volume: 1000, web: 300, "
             "quality: frames of the MP4, 300)"
    )
    parser.add_argument(
        "--files", type=int, default=1000,
        help="import: files in the folder; quality: slices of the CT (1000)"
    )
    parser.add_argument(
        "--studies", type=int, default=2000,
        help="import: studies of 50 instances in the search index (2000)",
    )
    parser.add_argument(
        "--workdir", type=Path, help="keep the generated series here (reused when present)"
    )
    parser.add_argument(
        "--repeat", "--passes", type=int, dest="repeat",
        help="passes per measurement: decode, import, start, net, volume, presentation, web 5 "
        "(the median counts), others 3 (the best counts)",
    )
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="fuzz: how long to run, in seconds (60)"
    )
    parser.add_argument("--seed", type=int, default=0, help="fuzz: the seed of every choice (0)")
    parser.add_argument(
        "--crashes", type=Path, default=Path("fuzz-crashes"),
        help="fuzz: where each crashing input is saved (./fuzz-crashes)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")


def run(args: argparse.Namespace) -> int:
    from viewer.cli import CLIError

    if args.slices is not None and args.slices < 1:
        raise CLIError("--slices must be at least 1")
    if args.repeat is None:
        args.repeat = 5 if args.suite in ("decode", "import", "start", "net", "volume",
                                                  "presentation", "quality", "web") else 3
    if args.repeat < 1:
        raise CLIError("--repeat must be at least 1")
    if args.suite == "start":
        return _run_start(args)
    if args.suite == "import":
        return _run_import(args)
    if args.suite == "gui":
        return _run_gui(args)
    if args.suite == "net":
        return _run_net(args)
    if args.suite == "export":
        return _run_export(args)
    if args.suite == "print":
        return _run_print(args)
    if args.suite == "fuzz":
        return _run_fuzz(args)
    if args.suite == "volume":
        return _run_volume(args)
    if args.suite == "presentation":
        return _run_presentation(args)
    if args.suite == "quality":
        return _run_quality(args)
    if args.suite == "web":
        return _run_web(args)
    args.slices = args.slices or 300
    from viewer.decode.benchmark import format_table, run_decode_benchmark
    from viewer.dicom.demo import TranscodeError

    try:
        result = run_decode_benchmark(
            args.slices, args.workdir, args.repeat, _progress("decode")
        )
    except TranscodeError as exc:
        raise CLIError(f"cannot prepare the test series: {exc}") from None
    return _report(args, result, format_table(result))


def _run_import(args: argparse.Namespace) -> int:
    from viewer.archive.benchmark import format_table, run_import_benchmark
    from viewer.cli import CLIError

    if args.files < 1 or args.studies < 1:
        raise CLIError("--files and --studies must be at least 1")

    try:
        result = run_import_benchmark(
            args.files, args.workdir, args.studies, _progress("import"), args.repeat
        )
    except RuntimeError as exc:
        raise CLIError(str(exc)) from None
    return _report(args, result, format_table(result))


TARGET_INFO_S = 0.25


def _run_start(args: argparse.Namespace) -> int:
    """`bench start`: `info FILE` cold. Each pass is a new process (nothing imported yet) with
    the page cache warm (one unmeasured run of each command first), against the interpreter
    alone and the interpreter importing pydicom, alternating; medians, every pass printed."""
    import functools
    import statistics
    import tempfile

    from viewer.decode.benchmark import (
        alternating,
        format_passes,
        script_command,
        timed_process,
        viewer_command,
    )
    from viewer.dicom.demo import write_ct_series

    with tempfile.TemporaryDirectory(prefix="bench-start-", dir=args.workdir) as work:
        path = str(write_ct_series(Path(work), 1)[0])
        commands = {
            "python -c pass": script_command("pass"),
            "python -c 'import pydicom'": script_command("import pydicom"),
            "dicom-viewer info FILE": viewer_command("info", path),
            "dicom-viewer --help": viewer_command("--help"),
        }
        for command in commands.values():
            timed_process(command)
        def seconds(command: list[str]) -> float:
            return timed_process(command)[0]

        times = alternating(args.repeat, {
            name: functools.partial(seconds, command) for name, command in commands.items()
        })
    info = statistics.median(times["dicom-viewer info FILE"])
    met = info <= TARGET_INFO_S
    if args.json:
        print(json.dumps({"passes_s": times, "info_s": info, "target_s": TARGET_INFO_S,
                          "met": met}, indent=2))
    else:
        print(f"start: whole processes, page cache warm, median of {args.repeat} "
              "alternating passes (every pass in run order):")
        print(format_passes(times))
        print(f"target info FILE cold: {info:.3f} s <= {TARGET_INFO_S} s  "
              f"{'ok' if met else 'MISSED'}")
    return 1 if args.strict and not met else 0


def _run_print(args: argparse.Namespace) -> int:
    """`bench print`: a 3x4 CT film, ours against dcmpsprt + dcmprscu, to dcmprscp."""
    import tempfile

    from viewer.cli import CLIError
    from viewer.printing.benchmark import measure

    with tempfile.TemporaryDirectory(prefix="bench-print-", dir=args.workdir) as work:
        try:
            result = measure(Path(work), args.repeat)
        except RuntimeError as exc:
            raise CLIError(str(exc)) from None
    print(result.summary())
    return 1 if args.strict and result.ratio > result.target else 0


def _run_volume(args: argparse.Namespace) -> int:
    """`bench volume`: the table of issue 16's targets; with --strict, exit 1 on a FAIL."""
    from viewer.volume.benchmark import run_volume_benchmark

    result = run_volume_benchmark(args.slices or 1000, args.repeat, _progress("volume"))
    print(result.to_json() if args.json else result.table())
    missed = [row for row in result.targets() if not row.met]
    return 1 if args.strict and missed else 0


def _run_presentation(args: argparse.Namespace) -> int:
    """`bench presentation`: the table of issue 17's targets; with --strict, exit 1 on a FAIL."""
    from viewer.cli.bench_presentation import measure_rows
    from viewer.cli.bench_rows import table, to_json

    rows = measure_rows(args.repeat, _progress("presentation"))
    print(to_json(rows) if args.json else table("presentation", rows, args.repeat))
    return 1 if args.strict and any(row.met is False for row in rows) else 0


def _run_quality(args: argparse.Namespace) -> int:
    """`bench quality`: the table of issue 19's targets; with --strict, exit 1 on a FAIL."""
    from viewer.cli import CLIError
    from viewer.cli.bench_quality import Sizes, measure_rows
    from viewer.cli.bench_rows import table, to_json
    from viewer.media.video import VideoError
    from viewer.quality.dciodvfy import ToolMissing

    if args.files < 3:
        raise CLIError("--files must be at least 3")
    try:
        rows = measure_rows(args.repeat, Sizes(args.files, args.slices or 300), args.workdir,
                            _progress("quality"))
    except (ToolMissing, VideoError, RuntimeError) as exc:
        raise CLIError(str(exc)) from None
    print(to_json(rows) if args.json else table("quality", rows, args.repeat))
    return 1 if args.strict and any(row.met is False for row in rows) else 0


def _run_web(args: argparse.Namespace) -> int:
    """`bench web`: the table of issue 18's targets; with --strict, exit 1 on a FAIL."""
    from viewer.cli import CLIError
    from viewer.cli.bench_web import measure_rows, table, to_json
    from viewer.net.association import PeerError

    images = args.slices or 300
    try:
        rows = measure_rows(images, args.repeat, args.workdir, _progress("web"))
    except (RuntimeError, PeerError, OSError) as exc:  # a peer missing, failing or refusing
        raise CLIError(str(exc)) from None
    print(to_json(rows, images) if args.json else table(rows, images, args.repeat))
    return 1 if args.strict and not all(row.met for row in rows) else 0


def _run_fuzz(args: argparse.Namespace) -> int:
    """`bench fuzz`: exit 1 when any crash was found (each saved under --crashes)."""
    import tempfile

    from viewer.archive.fuzzing import run_fuzz
    from viewer.cli import CLIError

    if args.seconds <= 0:
        raise CLIError("--seconds must be more than 0")
    with tempfile.TemporaryDirectory(prefix="bench-fuzz-", dir=args.workdir) as work:
        result = run_fuzz(args.seconds, args.seed, Path(work), args.crashes.resolve(),
                          _progress("fuzz"))
    print(result.to_json() if args.json else result.table())
    return 1 if result.crashes else 0


def _run_export(args: argparse.Namespace) -> int:
    """`bench export`: a CD export of an imported 1,000-slice CT against cp -r + dcmmkdir."""
    import tempfile

    from viewer.media.benchmark import measure

    with tempfile.TemporaryDirectory(prefix="bench-export-", dir=args.workdir) as work:
        result = measure(Path(work), args.slices or 1000, args.repeat)
    print(result.summary())
    print("passes: ours", " ".join(f"{s:.2f}" for s in result.ours_s),
          "/ baseline", " ".join(f"{s:.2f}" for s in result.baseline_s))
    return 1 if args.strict and result.ratio > 1.5 else 0


def _run_net(args: argparse.Namespace) -> int:
    """`bench net`: like the others, plus exit 1 whenever a ratio is over 4x (Nagle)."""
    from viewer.cli import CLIError
    from viewer.net.benchmark import format_table, run_net_benchmark

    try:
        result = run_net_benchmark(args.slices or 300, args.workdir, args.repeat or 5,
                                   _progress("net"), args.peer_pdu)
    except (RuntimeError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    print(result.to_json() if args.json else format_table(result))
    for m in result.regressions:
        print(f"bench net: FAIL {m.name}: {m.ratio:.1f}x {m.baseline}, over 4x", file=sys.stderr)
    missed = [m for m in result.targets() if not m.met]
    return 1 if result.regressions or (args.strict and missed) else 0


def _run_gui(args: argparse.Namespace) -> int:
    """Become `python -m viewer.gui.benchmark` (exec, not a child): the benchmark measures the
    memory of its own process tree, and a parent CLI process mapping the same libraries
    (pydicom, GDCM, numpy) would take a share of their pages out of that tree's PSS: 5-10 MiB
    less than the viewer really uses, where nothing else maps them."""
    import os

    command = [sys.executable, "-m", "viewer.gui.benchmark", "--slices", str(args.slices or 1000)]
    command += ["--workdir", str(args.workdir)] if args.workdir else []
    command += ["--json"] if args.json else []
    command += ["--strict"] if args.strict else []
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, command, env)


def _progress(suite: str) -> Callable[[str], None]:
    """Progress lines on stderr, only when it is a terminal (CLI.md)."""

    def progress(message: str) -> None:
        if sys.stderr.isatty():
            print(f"bench {suite}: {message}...", file=sys.stderr, flush=True)

    return progress


def _report(
    args: argparse.Namespace, result: DecodeBenchmark | ImportBenchmark, table: str
) -> int:
    """Print the table or JSON; with --strict, exit 1 when a target was missed."""
    print(result.to_json() if args.json else table)
    missed = [t for t in result.targets() if not t.met]
    return 1 if args.strict and missed else 0
