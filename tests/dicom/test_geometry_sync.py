"""Geometry for several viewports: sync by position, reference lines, pixel <-> patient points,
orientation markers of rotated and flipped views (PS3.3 C.7.6.2.1.1). Expected values are
worked out by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from viewer.dicom.geometry import (
    EdgeLabels,
    StackPlanes,
    image_point,
    nearest_slice,
    oriented_edge_labels,
    patient_point,
    reference_line,
    slice_normal,
)
from viewer.dicom.stack import SliceGeometry

FOR = "1.2.3.4"
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
C45 = math.sqrt(0.5)


def plane(
    position: tuple[float, float, float] | None,
    orientation: tuple[float, ...] | None = AXIAL,
    spacing: tuple[float, float] | None = (1.0, 1.0),
    rows: int = 100,
    columns: int = 100,
    thickness: float | None = None,
    frame_of_reference: str = FOR,
) -> SliceGeometry:
    return SliceGeometry(
        position=position,
        orientation=orientation,  # type: ignore[arg-type]
        pixel_spacing=spacing,
        slice_thickness=thickness,
        slice_location=None,
        frame_of_reference_uid=frame_of_reference,
        rows=rows,
        columns=columns,
    )


# Stack A: 41 axial slices 2.5 mm apart, head first: slice i at z = 100 - 2.5 i.
STACK_A = [plane((-120.0, -120.0, 100 - 2.5 * i)) for i in range(41)]
# Stack B: 101 slices 1 mm apart with another origin: slice j at z = 130.3 - j.
STACK_B = [plane((-80.0, -95.0, 130.3 - j), rows=64, columns=64) for j in range(101)]


# --- nearest slice: sync by position --------------------------------------------------------------

# (slice j of B, the slice of A nearest it): B's z = 130.3 - j; A's slice (100 - z) / 2.5,
# accepted within half A's spacing (1.25 mm).
B_TO_A = [
    (80, 20),  # z 50.3 -> A z 50 (0.3 mm); by index B's 80 would not even exist in A
    (30, 0),  # z 100.3 -> A z 100
    (45, 6),  # z 85.3 -> A z 85
    (100, 28),  # z 30.3 -> A z 30
    (29, None),  # z 101.3: 1.3 mm above A's top slice, more than 1.25
    (0, None),  # z 130.3: far above A
]


@pytest.mark.parametrize(("j", "expected"), B_TO_A, ids=[f"B{j}" for j, _ in B_TO_A])
def test_nearest_slice_syncs_by_position_not_index(j: int, expected: int | None) -> None:
    # The point is off-centre in B's image: only its distance along A's normal counts.
    point = patient_point(STACK_B[j], 50, 7)
    assert nearest_slice(STACK_A, point, FOR) == expected


def test_nearest_slice_the_other_way_uses_the_finer_spacing() -> None:
    planes = StackPlanes(STACK_B)
    assert planes.spacing == pytest.approx(1.0)
    # A slice 20 (z 50) -> B z 50.3 is slice 80 (0.3 mm <= 0.5); A slice 40 (z 0) is 30.3 mm
    # below B's lowest slice.
    assert planes.nearest(patient_point(STACK_A[20], 0, 0), FOR) == 80
    assert planes.nearest(patient_point(STACK_A[0], 99, 99), FOR) == 30
    assert planes.nearest(patient_point(STACK_A[40], 0, 0), FOR) is None


def test_nearest_slice_needs_the_same_frame_of_reference() -> None:
    point = (0.0, 0.0, 50.0)
    assert nearest_slice(STACK_A, point, FOR) == 20
    assert nearest_slice(STACK_A, point, "9.9.9") is None
    unknown = [plane((0.0, 0.0, 50.0), frame_of_reference="")]
    assert nearest_slice(unknown, point, "") is None
    mixed = [*STACK_A[:5], plane((-120.0, -120.0, 80.0), frame_of_reference="9.9.9")]
    assert not StackPlanes(mixed).usable
    assert nearest_slice(mixed, (0.0, 0.0, 100.0), FOR) is None


def test_nearest_slice_explicit_tolerance() -> None:
    point = (0.0, 0.0, 101.3)  # 1.3 mm above A's top slice
    assert nearest_slice(STACK_A, point, FOR) is None
    assert nearest_slice(STACK_A, point, FOR, tolerance_mm=2.0) == 0
    assert nearest_slice(STACK_A, (0.0, 0.0, 50.2), FOR, tolerance_mm=0.1) is None


def test_nearest_slice_needs_one_orientation() -> None:
    tilted = [*STACK_A[:3], plane((0.0, 0.0, 95.0), orientation=CORONAL)]
    assert not StackPlanes(tilted).usable
    assert nearest_slice(tilted, (0.0, 0.0, 100.0), FOR) is None
    # Stored decimals that differ in the sixth place are still one orientation.
    rounded = [*STACK_A[:3], plane((0.0, 0.0, 92.5), orientation=(1, 0, 0, 0, 0.999999, 1e-6))]
    assert nearest_slice(rounded, (0.0, 0.0, 92.4), FOR) == 3


def test_nearest_slice_in_any_stack_order_and_skipping_unknown_slices() -> None:
    shuffled_z = [10.0, 0.0, 5.0, 15.0]  # feet-first and shuffled: indices are the stack's
    stack: list[SliceGeometry | None] = [plane((0.0, 0.0, z)) for z in shuffled_z]
    stack.insert(1, None)  # a broken slice: never chosen
    stack.insert(3, plane(None))  # no position
    # Stack now: 10, None, 0, no-position, 5, 15; spacing 5, tolerance 2.5.
    assert nearest_slice(stack, (0.0, 0.0, 4.0), FOR) == 4
    assert nearest_slice(stack, (0.0, 0.0, -2.0), FOR) == 2
    assert nearest_slice(stack, (0.0, 0.0, 16.0), FOR) == 5
    assert nearest_slice(stack, (0.0, 0.0, 18.0), FOR) is None
    assert nearest_slice([None, None], (0.0, 0.0, 0.0), FOR) is None


def test_nearest_slice_ties_go_to_the_lowest_index() -> None:
    # Two phases per position (a 4-D series): 0, 0, 5, 5 mm.
    stack = [plane((0.0, 0.0, z)) for z in (5.0, 0.0, 5.0, 0.0)]
    assert nearest_slice(stack, (0.0, 0.0, 0.4), FOR) == 1
    assert nearest_slice(stack, (0.0, 0.0, 4.6), FOR) == 0


def test_single_slice_tolerance_is_its_thickness() -> None:
    thick = [plane((0.0, 0.0, 10.0), thickness=5.0)]
    assert nearest_slice(thick, (0.0, 0.0, 14.0), FOR) == 0
    assert nearest_slice(thick, (0.0, 0.0, 15.5), FOR) is None
    thin = [plane((0.0, 0.0, 10.0))]  # no thickness: its own plane only
    assert nearest_slice(thin, (0.0, 0.0, 10.005), FOR) == 0
    assert nearest_slice(thin, (0.0, 0.0, 10.5), FOR) is None


def test_nearest_slice_oblique_stack_measures_along_its_normal() -> None:
    iop = (C45, 0.0, -C45, 0.0, 1.0, 0.0)
    normal = slice_normal(iop)  # (C45, 0, C45)
    stack = [plane(tuple(k * 2.0 * normal), orientation=iop) for k in range(10)]  # type: ignore[arg-type]
    sideways = np.array([C45, 0.0, -C45]) * 40 + np.array([0.0, 30.0, 0.0])  # in the plane
    assert nearest_slice(stack, 7 * 2.0 * normal + sideways, FOR) == 7
    assert nearest_slice(stack, 6.6 * 2.0 * normal, FOR) == 7
    assert nearest_slice(stack, 6.4 * 2.0 * normal, FOR) == 6


def test_stack_planes_on_1000_slices_agrees_with_brute_force() -> None:
    rng = np.random.default_rng(5)
    z = 250.0 - 0.625 * rng.permutation(1000)  # shuffled order, 0.625 mm apart
    stack = [plane((-200.0, -200.0, float(v))) for v in z]
    planes = StackPlanes(stack)
    assert planes.spacing == pytest.approx(0.625)
    for target in rng.uniform(z.min() - 1, z.max() + 1, 300):
        distances = np.abs(z - target)
        best = int(np.argmin(distances))
        expected = best if distances[best] <= 0.3125 else None
        assert planes.nearest((5.0, 7.0, target), FOR) == expected


# --- pixel <-> patient ----------------------------------------------------------------------------

# Sagittal image: rows run down -z at 1 mm, columns along +y at 0.5 mm: Pixel Spacing is
# (row spacing, column spacing) = (1.0, 0.5). Pixel (x, y) -> (10, -80 + 0.5 x, 60 - y).
SAGITTAL_IMAGE = plane((10.0, -80.0, 60.0), SAGITTAL, (1.0, 0.5), rows=100, columns=200)


def test_patient_point_and_image_point() -> None:
    np.testing.assert_allclose(patient_point(SAGITTAL_IMAGE, 4, 10), (10.0, -78.0, 50.0))
    np.testing.assert_allclose(patient_point(SAGITTAL_IMAGE, 0, 0), (10.0, -80.0, 60.0))
    assert image_point(SAGITTAL_IMAGE, (10.0, -78.0, 50.0)) == pytest.approx((4.0, 10.0))
    # A point off the plane projects along the normal (x).
    assert image_point(SAGITTAL_IMAGE, (25.0, -78.0, 50.0)) == pytest.approx((4.0, 10.0))
    oblique = plane((3.0, 4.0, 5.0), (C45, C45, 0.0, 0.0, 0.0, -1.0), (0.8, 0.3))
    assert image_point(oblique, patient_point(oblique, 17.5, -3.25)) == pytest.approx(
        (17.5, -3.25)
    )


def test_patient_point_needs_a_located_plane() -> None:
    for missing in (plane(None), plane((0.0, 0.0, 0.0), None), plane((0, 0, 0), spacing=None)):
        with pytest.raises(ValueError, match="geometry"):
            patient_point(missing, 1, 1)
        with pytest.raises(ValueError, match="geometry"):
            image_point(missing, (0.0, 0.0, 0.0))


# --- reference lines ------------------------------------------------------------------------------

# Axial image at z = 20, 100 rows x 200 columns at 1 mm: pixel (x, y) -> (-99.5 + x, -99.5 + y),
# so it covers x from -100 to 100 mm and y from -100 to 0 mm (pixel edges).
AXIAL_IMAGE = plane((-99.5, -99.5, 20.0), AXIAL, (1.0, 1.0), rows=100, columns=200)
# SAGITTAL_IMAGE (x = 10) covers y from -80.25 to 19.75 mm and z from -39.5 to 60.5 mm.


def test_reference_line_of_a_sagittal_slice_on_an_axial_image() -> None:
    # The planes meet on x = 10, z = 20; y is clipped to [-80.25, 19.75] by the sagittal image
    # and to [-100, 0] by the axial one: y in [-80.25, 0]. Axial pixels: column 10 + 99.5,
    # rows -80.25 + 99.5 = 19.25 to 0 + 99.5 = 99.5 (the image's bottom edge).
    segment = reference_line(AXIAL_IMAGE, SAGITTAL_IMAGE)
    assert segment is not None
    np.testing.assert_allclose(segment, ((109.5, 19.25), (109.5, 99.5)), atol=1e-9)


def test_reference_line_of_an_axial_slice_on_a_sagittal_image() -> None:
    # The same line on the sagittal image: row 60 - 20 = 40, columns 2 (y + 80) for y from
    # -80.25 to 0: -0.5 (the left edge) to 160.
    segment = reference_line(SAGITTAL_IMAGE, AXIAL_IMAGE)
    assert segment is not None
    np.testing.assert_allclose(segment, ((-0.5, 40.0), (160.0, 40.0)), atol=1e-9)


def test_reference_line_of_a_coronal_slice_on_an_axial_image() -> None:
    # Coronal at y = -30: rows down -z at 2 mm, columns along +x at 1 mm, 50 x 100 pixels from
    # (-50, -30, 80): x from -50.5 to 49.5 mm, z from -19 to 81 mm. On the axial image: row
    # -30 + 99.5 = 69.5, columns -50.5 + 99.5 = 49 to 49.5 + 99.5 = 149.
    coronal = plane((-50.0, -30.0, 80.0), CORONAL, (2.0, 1.0), rows=50, columns=100)
    segment = reference_line(AXIAL_IMAGE, coronal)
    assert segment is not None
    np.testing.assert_allclose(segment, ((49.0, 69.5), (149.0, 69.5)), atol=1e-9)


def test_reference_line_between_an_axial_and_a_45_degree_oblique_image() -> None:
    # Oblique: rows along (C45, 0, C45), columns along +y, 1 mm pixels, 40 x 60 from
    # (10, -50, 0): pixel (t, r) -> (10 + C45 t, -50 + r, C45 t). It meets z = 20 at column
    # t = 20 / C45 = 20 sqrt(2), where x = 30; its rows clip y to [-50.5, -10.5].
    oblique = plane((10.0, -50.0, 0.0), (C45, 0.0, C45, 0.0, 1.0, 0.0), (1.0, 1.0), 40, 60)
    on_axial = reference_line(AXIAL_IMAGE, oblique)
    assert on_axial is not None  # axial column 30 + 99.5, rows -50.5 + 99.5 to -10.5 + 99.5
    np.testing.assert_allclose(on_axial, ((129.5, 49.0), (129.5, 89.0)), atol=1e-9)
    on_oblique = reference_line(oblique, AXIAL_IMAGE)
    assert on_oblique is not None  # the oblique's full height at column 20 sqrt(2)
    column = 20 * math.sqrt(2)
    np.testing.assert_allclose(on_oblique, ((column, -0.5), (column, 39.5)), atol=1e-9)
    # 20 columns end at t = 19.5, z = 13.8: short of the axial plane, so no line either way.
    short = plane((10.0, -50.0, 0.0), (C45, 0.0, C45, 0.0, 1.0, 0.0), (1.0, 1.0), 40, 20)
    assert reference_line(AXIAL_IMAGE, short) is None
    assert reference_line(short, AXIAL_IMAGE) is None


def test_reference_line_missing_the_image_is_none() -> None:
    beside = plane((150.0, -80.0, 60.0), SAGITTAL, (1.0, 0.5), rows=100, columns=200)
    assert reference_line(AXIAL_IMAGE, beside) is None  # x = 150 is right of the axial image
    assert reference_line(beside, AXIAL_IMAGE) is None
    above = plane((-99.5, -99.5, 100.0), AXIAL, (1.0, 1.0), rows=100, columns=200)
    assert reference_line(SAGITTAL_IMAGE, above) is None  # z = 100 is above the sagittal image


def test_reference_line_none_cases() -> None:
    other_axial = plane((-99.5, -99.5, 35.0), AXIAL, (1.0, 1.0), rows=100, columns=200)
    assert reference_line(AXIAL_IMAGE, other_axial) is None  # parallel
    elsewhere = plane((10.0, -80.0, 60.0), SAGITTAL, (1.0, 0.5), frame_of_reference="9.9")
    assert reference_line(AXIAL_IMAGE, elsewhere) is None
    assert reference_line(AXIAL_IMAGE, plane(None, SAGITTAL)) is None
    assert reference_line(AXIAL_IMAGE, plane((10.0, 0.0, 0.0), SAGITTAL, None)) is None
    assert reference_line(None, SAGITTAL_IMAGE) is None
    unknown = plane((-99.5, -99.5, 20.0), AXIAL, frame_of_reference="")
    unknown_too = plane((10.0, -80.0, 60.0), SAGITTAL, frame_of_reference="")
    assert reference_line(unknown, unknown_too) is None


def test_reference_line_of_an_oblique_slice_lies_on_both_images() -> None:
    iop = (C45, 0.0, -C45, 0.0, 1.0, 0.0)  # tilted 45 degrees about y
    oblique = plane((-60.0, -90.0, 50.0), iop, (0.9, 0.7), rows=120, columns=150)
    segment = reference_line(AXIAL_IMAGE, oblique)
    assert segment is not None
    normal = slice_normal(iop)
    origin = np.array(oblique.position)
    for x, y in segment:
        point = patient_point(AXIAL_IMAGE, x, y)
        assert abs((point - origin) @ normal) < 1e-9  # on the oblique plane
        ox, oy = image_point(oblique, point)
        assert -0.5 - 1e-9 <= ox <= 149.5 + 1e-9 and -0.5 - 1e-9 <= oy <= 119.5 + 1e-9
        assert -0.5 - 1e-9 <= x <= 199.5 + 1e-9 and -0.5 - 1e-9 <= y <= 99.5 + 1e-9
    assert segment[0][0] <= segment[1][0]
    # Each end is on an edge of one of the two images: the line is clipped, not shortened.
    edges = []
    for x, y in segment:
        ox, oy = image_point(oblique, patient_point(AXIAL_IMAGE, x, y))
        edges.append(
            min(abs(x + 0.5), abs(x - 199.5), abs(y + 0.5), abs(y - 99.5),
                abs(ox + 0.5), abs(ox - 149.5), abs(oy + 0.5), abs(oy - 119.5))
        )
    assert max(edges) < 1e-9


# --- orientation markers of a rotated / flipped view ---------------------------------------------

# Worked by hand from the unrotated labels (top, bottom, left, right): a clockwise quarter
# turn moves the left edge's label to the top, the top's to the right, the right's to the
# bottom, the bottom's to the left; then a horizontal flip swaps left and right on screen and
# a vertical flip swaps top and bottom.
ROTATED = {
    "axial": (AXIAL, {
        (0, False, False): "A P R L", (0, True, False): "A P L R",
        (0, False, True): "P A R L", (0, True, True): "P A L R",
        (1, False, False): "R L P A", (1, True, False): "R L A P",
        (1, False, True): "L R P A", (1, True, True): "L R A P",
        (2, False, False): "P A L R", (2, True, False): "P A R L",
        (2, False, True): "A P L R", (2, True, True): "A P R L",
        (3, False, False): "L R A P", (3, True, False): "L R P A",
        (3, False, True): "R L A P", (3, True, True): "R L P A",
    }),
    "sagittal": (SAGITTAL, {
        (0, False, False): "H F A P", (0, True, False): "H F P A",
        (0, False, True): "F H A P", (0, True, True): "F H P A",
        (1, False, False): "A P F H", (1, True, False): "A P H F",
        (1, False, True): "P A F H", (1, True, True): "P A H F",
        (2, False, False): "F H P A", (2, True, False): "F H A P",
        (2, False, True): "H F P A", (2, True, True): "H F A P",
        (3, False, False): "P A H F", (3, True, False): "P A F H",
        (3, False, True): "A P H F", (3, True, True): "A P F H",
    }),
    "coronal": (CORONAL, {
        (0, False, False): "H F R L", (0, True, False): "H F L R",
        (0, False, True): "F H R L", (0, True, True): "F H L R",
        (1, False, False): "R L F H", (1, True, False): "R L H F",
        (1, False, True): "L R F H", (1, True, True): "L R H F",
        (2, False, False): "F H L R", (2, True, False): "F H R L",
        (2, False, True): "H F L R", (2, True, True): "H F R L",
        (3, False, False): "L R H F", (3, True, False): "L R F H",
        (3, False, True): "R L H F", (3, True, True): "R L F H",
    }),
}
ROTATED_CASES = [
    (name, iop, turns, fh, fv, expected)
    for name, (iop, table) in ROTATED.items()
    for (turns, fh, fv), expected in table.items()
]


@pytest.mark.parametrize(
    ("iop", "turns", "flip_h", "flip_v", "expected"),
    [case[1:] for case in ROTATED_CASES],
    ids=[
        f"{c[0]}-cw{c[2]}" + ("-fliph" if c[3] else "") + ("-flipv" if c[4] else "")
        for c in ROTATED_CASES
    ],
)
def test_oriented_edge_labels(
    iop: tuple[float, ...], turns: int, flip_h: bool, flip_v: bool, expected: str
) -> None:
    assert oriented_edge_labels(iop, turns, flip_h, flip_v) == EdgeLabels(*expected.split())


def test_oriented_edge_labels_turns_wrap_and_bad_input() -> None:
    assert oriented_edge_labels(AXIAL, -1, False, False) == EdgeLabels("L", "R", "A", "P")
    assert oriented_edge_labels(AXIAL, 5, False, False) == EdgeLabels("R", "L", "P", "A")
    assert oriented_edge_labels(AXIAL, 4, True, False) == EdgeLabels("A", "P", "L", "R")
    assert oriented_edge_labels(None, 1, False, False) is None
    assert oriented_edge_labels((1, 0, 0, 1, 0, 0), 0, False, False) is None  # parallel
    # Oblique letters turn with the view too: 45 degrees about z, one turn clockwise.
    oblique = oriented_edge_labels((C45, C45, 0, -C45, C45, 0), 1, False, False)
    assert oblique == EdgeLabels(top="RA", bottom="LP", left="RP", right="LA")
