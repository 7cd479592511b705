"""Our display pipeline against DCMTK's dcmj2pnm, pixel by pixel.

Every image among pydicom's test files (and the pydicom-data package), first and last frame,
at an explicit window in modality units (PS3.3 C.11.2.1.2) or, for colour, without one; and the
synthetic CT series in every transfer syntax `viewer.dicom.demo.transcode` writes. Pass: at
least 99.5 % of pixels within one grey level and a mean absolute difference of at most 0.75.
Set VIEWER_REFERENCE_ARTIFACTS=DIR to keep both renders of each failing case.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.dicom import reference
from tests.peers import require_tool
from viewer.dicom import demo

INVENTORY = reference.inventory()
CT_WINDOWS = {"abdomen": (40.0, 400.0), "lung": (-600.0, 1500.0)}
COLOUR_SYNTAXES = (
    "big-endian", "rle", "jpeg-baseline", "jpeg-lossless", "jpeg-ls", "j2k", "htj2k",
)
TOOLS = {
    "dcmj2pnm": "dcmtk", "dcmdjpeg": "dcmtk", "dcmdjpls": "dcmtk", "dcmconv": "dcmtk",
    "dcmcrle": "dcmtk", "dcmcjpeg": "dcmtk", "dcmcjpls": "dcmtk", "gdcmconv": "libgdcm-tools",
    "ojph_compress": "openjph-tools", "ojph_expand": "openjph-tools",
}


@pytest.fixture(scope="session")
def reference_tools() -> None:
    for tool, package in TOOLS.items():
        require_tool(tool, package)


@pytest.fixture(scope="session")
def testdata_renders(
    reference_tools: None, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, reference.Rendered]:
    return reference.render_all(INVENTORY.cases, tmp_path_factory.mktemp("dcmtk-testdata"))


@pytest.fixture(scope="session")
def ct_renders(
    reference_tools: None, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, reference.Rendered]:
    """One chest slice (lungs, heart, ribs, spine) in every syntax, at both of its windows;
    and a two-frame RGB image in the syntaxes that take colour."""
    from pydicom.data import get_testdata_file

    root = tmp_path_factory.mktemp("dcmtk-ct")
    series = demo.write_ct_series(root / "src", slices=3, rows=256, columns=256)
    chest = series[1:2]
    cases = []
    for syntax in demo.TRANSFER_SYNTAXES:
        path = demo.transcode(chest, syntax, root / syntax)[0]
        cases += [
            reference.Case(f"ct-{syntax}-{name}", path, 0, False, window)
            for name, window in CT_WINDOWS.items()
        ]
    colour = [Path(str(get_testdata_file("SC_rgb_2frame.dcm")))]
    for syntax in COLOUR_SYNTAXES:
        path = demo.transcode(colour, syntax, root / f"rgb-{syntax}")[0]
        cases += [reference.Case(f"rgb-{syntax}#f{f}", path, f, True) for f in (0, 1)]
    return reference.render_all(cases, root / "renders")


def _compare(rendered: reference.Rendered) -> None:
    from viewer.dicom.display import DisplayState, render_frame

    case = rendered.case
    if rendered.error or rendered.png is None:
        pytest.fail(
            f"DCMTK could not render {case.id} (route: {rendered.route}): {rendered.error}. "
            "Give it a route in tests/dicom/reference.py or list it in EXCLUDED with the reason."
        )
    theirs = reference.read_png(rendered.png)
    ours = render_frame(case.path, case.frame, DisplayState(window=rendered.window, overlays=False))
    assert ours.dtype == np.uint8
    where = f"{case.id} (window {rendered.window}, DCMTK input {rendered.route})"
    assert ours.shape == theirs.shape, f"{where}: ours {ours.shape}, DCMTK {theirs.shape}"
    result = reference.compare(ours, theirs)
    known = reference.KNOWN_DIFFERENCES.get(case.id)
    if known is not None:
        kind, reason = known
        assert not result.passed, f"{where} now passes: remove it from KNOWN_DIFFERENCES"
        assert reference.known_difference_holds(kind, ours, theirs), (
            f"{where}: differs from DCMTK beyond the known {kind} ({reason}): {result.describe()}"
        )
        return
    if not result.passed:
        keep = reference.artifacts_dir()
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            stem = case.id.replace("/", "__").replace("#", "_")
            (keep / f"{stem}.ours.png").write_bytes(reference.png_bytes(ours))
            (keep / f"{stem}.dcmtk.png").write_bytes(reference.png_bytes(theirs))
        pytest.fail(f"{where}: {result.describe()}")


@pytest.mark.peers
@pytest.mark.parametrize("case", INVENTORY.cases, ids=[c.id for c in INVENTORY.cases])
def test_testdata_matches_dcmtk(
    case: reference.Case, testdata_renders: dict[str, reference.Rendered]
) -> None:
    _compare(testdata_renders[case.id])


@pytest.mark.peers
@pytest.mark.parametrize("window", sorted(CT_WINDOWS))
@pytest.mark.parametrize("syntax", sorted(demo.TRANSFER_SYNTAXES))
def test_ct_series_matches_dcmtk(
    syntax: str, window: str, ct_renders: dict[str, reference.Rendered]
) -> None:
    _compare(ct_renders[f"ct-{syntax}-{window}"])


@pytest.mark.peers
@pytest.mark.parametrize("frame", [0, 1])
@pytest.mark.parametrize("syntax", COLOUR_SYNTAXES)
def test_transcoded_colour_matches_dcmtk(
    syntax: str, frame: int, ct_renders: dict[str, reference.Rendered]
) -> None:
    _compare(ct_renders[f"rgb-{syntax}#f{frame}"])


def test_every_test_file_is_accounted_for() -> None:
    """Each file is compared, or not an image, or excluded with a written reason; none silently."""
    compared = {c.id.split("#")[0] for c in INVENTORY.cases}
    accounted = compared | set(INVENTORY.not_images) | set(INVENTORY.excluded)
    assert accounted == INVENTORY.all_ids
    assert not compared & set(INVENTORY.excluded)
    stale = set(reference.EXCLUDED) - INVENTORY.all_ids
    assert not stale, f"EXCLUDED names files pydicom no longer ships: {sorted(stale)}"
    images_excluded = set(reference.EXCLUDED) & set(INVENTORY.not_images)
    assert not images_excluded, f"listed in EXCLUDED but not images anyway: {images_excluded}"
    assert all(reason.strip() for reason in reference.EXCLUDED.values())
    case_ids = {c.id for c in INVENTORY.cases}
    assert set(reference.KNOWN_DIFFERENCES) <= case_ids
    # The inventory really holds the colour kinds the brief asks for.
    kinds = {str(_photometric(c.path)) for c in INVENTORY.cases}
    assert {"RGB", "YBR_FULL", "YBR_FULL_422", "PALETTE COLOR", "MONOCHROME1"} <= kinds
    assert len(INVENTORY.cases) > 150


def _photometric(path: Path) -> object:
    from pydicom import dcmread

    return dcmread(path, stop_before_pixels=True, force=True).get("PhotometricInterpretation")


def test_comparison_catches_what_it_must() -> None:
    """The pass rule rejects an inversion, a constant offset of 2 and a scaled palette."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    assert reference.compare(image, image).passed
    near = np.clip(image.astype(int) + rng.integers(-1, 2, image.shape), 0, 255).astype(np.uint8)
    assert reference.compare(near, image).passed
    assert not reference.compare(255 - image, image).passed
    offset = np.clip(image.astype(int) + 2, 0, 255).astype(np.uint8)
    assert not reference.compare(offset, image).passed
    scaled = (image.astype(int) * 250 // 255).astype(np.uint8)
    assert not reference.compare(scaled, image).passed
    assert not reference.known_difference_holds(reference.YBR_INTEGER, 255 - image, image)


def test_window_output_truncated_exactly_as_dcmtk(reference_tools: None, tmp_path: Path) -> None:
    """PS3.3 C.11.2.1.2.1 leaves rounding open; DCMTK floors, and so do we, pixel for pixel."""
    from pydicom import dcmread

    from viewer.dicom.display import DisplayState, render_frame

    path = demo.write_ct_series(tmp_path, 1, 64, 64)[0]
    ds = dcmread(path)
    ramp = (np.arange(64 * 64) % 1000 + 1000).reshape(64, 64).astype("<u2")
    ds.PixelData = ramp.tobytes()
    ds.save_as(path)
    center, width = 100.0, 333.0
    png = tmp_path / "ramp.png"
    reference.dcmj2pnm(path, 0, (center, width), png)
    x = ramp.astype(np.float64) - 1024.0
    exact = np.clip(((x - (center - 0.5)) / (width - 1) + 0.5) * 255.0, 0, 255)
    theirs = reference.read_png(png)
    assert np.array_equal(theirs, np.floor(exact).astype(np.uint8))
    assert np.array_equal(render_frame(path, 0, DisplayState(window=(center, width))), theirs)


@pytest.mark.peers
def test_voi_lut_sequence_matches_dcmtk(reference_tools: None, tmp_path: Path) -> None:
    """The file's own VOI LUT (PS3.3 C.11.2.1.1) instead of a window: dcmj2pnm +Wl 1.

    vlut_04.dcm's own LUT is nearly linear, so a curved one (a square root) replaces its data:
    a pipeline that ignored the LUT and used a min-max window would then fail.
    """
    from pydicom import dcmread
    from pydicom.data import get_testdata_file

    from viewer.dicom.display import DisplayState, render_frame

    ds = dcmread(str(get_testdata_file("vlut_04.dcm")))
    item = ds.VOILUTSequence[0]
    entries, _first, bits = (int(v) for v in item.LUTDescriptor)
    entries = entries or 65536
    curve = np.sqrt(np.linspace(0.0, 1.0, entries)) * ((1 << bits) - 1)
    item.LUTData = [int(v) for v in np.rint(curve)]
    path = tmp_path / "vlut_sqrt.dcm"
    ds.save_as(path)

    png = tmp_path / "dcmtk.png"
    reference.dcmj2pnm(path, 0, None, png, extra=("+Wl", "1"))
    theirs = reference.read_png(png)
    ours = render_frame(path, 0, DisplayState(window=None, voi_lut_index=0, overlays=False))
    result = reference.compare(ours, theirs)
    assert result.passed, result.describe()
    linear = render_frame(
        path, 0, DisplayState(window=reference.choose_window(path, 0), overlays=False)
    )
    assert not reference.compare(linear, theirs).passed  # the curve matters


@pytest.mark.peers
def test_inverted_display_matches_dcmtk(reference_tools: None, tmp_path: Path) -> None:
    """Our `invert` equals DCMTK's +P (change polarity) on a windowed CT slice."""
    from viewer.dicom.display import DisplayState, render_frame

    path = demo.write_ct_series(tmp_path, 1, 128, 128)[0]
    png = tmp_path / "dcmtk.png"
    reference.dcmj2pnm(path, 0, (40.0, 400.0), png, extra=("+P",))
    state = DisplayState(window=(40.0, 400.0), invert=True, overlays=False)
    result = reference.compare(render_frame(path, 0, state), reference.read_png(png))
    assert result.passed, result.describe()


@pytest.mark.peers
def test_overlays_match_dcmtk(reference_tools: None, tmp_path: Path) -> None:
    """60xx graphic overlays burnt in as DCMTK's default 'Replace' mode does (PS3.3 C.9.2)."""
    from pydicom.data import get_testdata_file

    from viewer.dicom.display import DisplayState, render_frame

    path = Path(get_testdata_file("MR-SIEMENS-DICOM-WithOverlays.dcm"))
    png = tmp_path / "overlay.png"
    # +O 0: every overlay; dcmj2pnm's -O (used everywhere else here) would hide them
    args = ["dcmj2pnm", "+on", "+O", "0", "+Ww", "450", "790", str(path), str(png)]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    theirs = reference.read_png(png)
    ours = render_frame(path, 0, DisplayState(window=(450, 790)))
    hidden = render_frame(path, 0, DisplayState(window=(450, 790), overlays=False))
    assert reference.compare(ours, theirs).passed
    assert (ours == 255).sum() > (hidden == 255).sum() + 100  # the overlay is really there


@pytest.mark.peers
@pytest.mark.parametrize(("function", "flag"), [("SIGMOID", "+Wfs"), ("LINEAR", "+Wfl")])
def test_voi_lut_function_matches_dcmtk(
    reference_tools: None, tmp_path: Path, function: str, flag: str
) -> None:
    """VOI LUT Function (PS3.3 C.11.2.1.3) chosen by the user, against dcmj2pnm's +Wfs/+Wfl."""
    from viewer.dicom.display import DisplayState, render_frame
    from viewer.dicom.frameinfo import VOIFunction

    path = demo.write_ct_series(tmp_path, 1, 128, 128)[0]
    png = tmp_path / "function.png"
    args = ["dcmj2pnm", "+on", "-O", "+Ww", "40", "400", flag, str(path), str(png)]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    state = DisplayState(window=(40, 400), voi_function=VOIFunction(function))
    assert reference.compare(render_frame(path, 0, state), reference.read_png(png)).passed
