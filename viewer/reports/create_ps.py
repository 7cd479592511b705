"""Save what the user sees as a Grayscale Softcopy Presentation State (PS3.3 A.33.1).

`create_presentation_state(images, view, ...)` builds the object through highdicom
(`GrayscaleSoftcopyPresentationState`: patient, study, series, Presentation State
Identification and Relationship, Modality LUT, Softcopy VOI LUT, Softcopy Presentation LUT,
Graphic Annotation and Layer) and adds with pydicom what highdicom does not model: referenced
frames of multi-frame images, Spatial Transformation (C.10.6), Displayed Area (C.10.4) with
the view's zoom and pan, and Display Shutter (C.7.6.11). The text is UTF-8 (Specific Character
Set ISO_IR 192); the UIDs are new. Nothing here reads or writes the archive: the caller stores
the returned dataset (with its file meta) like any other instance.

Cost: the first call with measurements in a process loads highdicom's tables of the standard
(about 0.6 s of JSON on a busy 2-core VM, measured with cProfile); later calls took 13-25 ms
for a 512x512 CT with 5 measurements. The GUI calls it off its event loop.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import warnings
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from viewer import __version__
from viewer.dicom.frameinfo import LUT, VOIFunction, frame_info
from viewer.reports.ps_graphics import drawn
from viewer.reports.view_state import (
    CircleShutter,
    PolygonShutter,
    PresentationSizeMode,
    RectangleShutter,
    ViewedImage,
    ViewState,
    with_patient_study,
)

if TYPE_CHECKING:
    import highdicom as hd

LOGGER = logging.getLogger(__name__)

MEASUREMENT_LAYER = "MEASUREMENTS"
UTF8 = "ISO_IR 192"
MANUFACTURER = "dicom-viewer"
_LABEL_CHARACTERS = re.compile(r"[^A-Z0-9 _]")


@contextlib.contextmanager
def highdicom_quietly() -> Iterator[None]:
    """highdicom's warnings (e.g. about a one-component patient name, nothing the user can act
    on here) to DEBUG logging rather than the user's stderr. Call from one thread at a time:
    Python's warning filters are process-wide."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        LOGGER.debug("highdicom: %s", warning.message)


def content_label(text: str) -> str:
    """`text` as a Content Label (0070,0080): a Code String of at most 16 upper-case letters,
    digits, spaces and underscores, anything else an underscore; it starts with a letter and
    ends with a letter or digit (as highdicom checks)."""
    label = _LABEL_CHARACTERS.sub("_", text.upper())[:16].strip(" _")
    if not label or not label[0].isalpha():
        label = ("L" + label)[:16].rstrip(" _") if label else "UNNAMED"
    return label


def create_presentation_state(
    images: Sequence[ViewedImage],
    view: ViewState,
    label: str = "VIEWER",
    description: str = "",
    creator: str = "",
    *,
    series_instance_uid: str | None = None,
    series_number: int = 9001,
    series_description: str = "Presentation states",
    instance_number: int = 1,
) -> Dataset:
    """A Grayscale Softcopy Presentation State showing `images` (frames) as `view` says.

    `label` becomes the Content Label (`content_label`), `description` the Content
    Description, `creator` the Content Creator's Name (a person name, ^-separated). All images
    must be grey, of one study and of one size. A new Series Instance UID unless
    `series_instance_uid` is given. Raises ValueError with a one-line reason for input it
    cannot represent (no image, a colour image, a frame out of range, a measurement outside
    its image, TRUE SIZE without pixel spacing...).
    """
    if not images:
        raise ValueError("no image selected: a presentation state references at least one")
    first = images[0]
    _check_images(images)
    headers = {image.sop_instance_uid: with_patient_study(image.header) for image in images}
    for header in headers.values():
        header.setdefault("SamplesPerPixel", 1)  # grey when absent (_check_images), as read
    frames: dict[str, set[int]] = defaultdict(set)
    for image in images:
        frames[image.sop_instance_uid].add(image.frame)
    layers, annotations = _annotations(images, view)

    with highdicom_quietly():
        ps = _gsps(images, view, headers, label, description, creator, layers, annotations,
                   series_instance_uid, series_number, instance_number)
    ps.SeriesDescription = series_description
    _series_body_part(ps, first.header)
    _reference_frames(ps, images, frames)
    ps.ImageRotation = view.rotation
    ps.ImageHorizontalFlip = "Y" if view.horizontal_flip else "N"
    ps.DisplayedAreaSelectionSequence = [_displayed_area(first, view)]
    _shutters(ps, first, view)
    LOGGER.debug("presentation state %s for %d image(s)", ps.SOPInstanceUID, len(headers))
    return ps


def _gsps(
    images: Sequence[ViewedImage], view: ViewState, headers: dict[str, Dataset], label: str,
    description: str, creator: str, layers: list[hd.pr.GraphicLayer],
    annotations: list[hd.pr.GraphicAnnotation], series_instance_uid: str | None,
    series_number: int, instance_number: int,
) -> Dataset:
    import highdicom as hd  # about a second and 10 MiB: only when an object is made
    first = images[0]
    return hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=list(headers.values()),
        series_instance_uid=series_instance_uid or generate_uid(),
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=instance_number,
        manufacturer=MANUFACTURER,
        manufacturer_model_name=MANUFACTURER,
        software_versions=__version__,
        device_serial_number=None,  # type: ignore[arg-type]  # optional in the IOD
        content_label=content_label(label),
        content_description=description or None,
        content_creator_name=creator or None,
        graphic_annotations=annotations or None,
        graphic_layers=layers or None,
        modality_lut_transformation=_modality(images),
        voi_lut_transformations=_voi(first, view),
        presentation_lut_transformation=hd.PresentationLUTTransformation(
            presentation_lut_shape=_presentation_lut_shape(first, view.invert)
        ),
        specific_character_set=UTF8,
    )


def _series_body_part(ps: Dataset, header: Dataset) -> None:
    """General Series (C.7.3.1): the images' Body Part Examined, and Laterality (2C) as they
    have it; without a body part that rules it out dciodvfy asks for Laterality, empty."""
    body_part = str(header.get("BodyPartExamined", "") or "").strip()
    if body_part:
        ps.BodyPartExamined = body_part
    if "Laterality" in header or not body_part:
        ps.Laterality = header.get("Laterality", "")


def _check_images(images: Sequence[ViewedImage]) -> None:
    first = images[0]
    for image in images:
        if int(image.header.get("SamplesPerPixel", 1) or 1) != 1:
            raise ValueError(
                f"image {image.sop_instance_uid} is colour: a Grayscale Softcopy Presentation "
                "State applies to grey images"
            )
        if image.study_instance_uid != first.study_instance_uid:
            raise ValueError(
                f"image {image.sop_instance_uid} belongs to another study than "
                f"{first.sop_instance_uid}: one presentation state covers one study"
            )
        if (image.rows, image.columns) != (first.rows, first.columns):
            raise ValueError(
                f"image {image.sop_instance_uid} is {image.columns}x{image.rows}, "
                f"{first.sop_instance_uid} {first.columns}x{first.rows}: one displayed area "
                "needs images of one size"
            )


def _presentation_lut_shape(image: ViewedImage, invert: bool) -> str:
    """INVERSE shows low values bright: what MONOCHROME1 (or the image's own INVERSE
    Presentation LUT Shape) means, unless the user inverted it; as `display.inverts` decides
    (C.11.6.1: the Presentation LUT Shape sets the polarity of a presentation state)."""
    info = frame_info(image.header, image.frame - 1)
    inverse = info.photometric == "MONOCHROME1" or info.presentation_lut_shape == "INVERSE"
    return "INVERSE" if inverse != invert else "IDENTITY"


def _modality(images: Sequence[ViewedImage]) -> hd.ModalityLUTTransformation:
    """The images' Modality LUT (C.11.1), which the presentation state's replaces: the
    frame's rescale (from the functional groups of an enhanced image) or its Modality LUT
    Sequence. Made here rather than by highdicom, which reads a multi-frame image's only from
    functional groups a classic multi-frame image does not have."""
    import highdicom as hd  # about a second and 10 MiB: only when an object is made
    infos = [frame_info(image.header, image.frame - 1) for image in images]
    first = infos[0]
    lut = first.modality_lut
    for image, info in zip(images, infos, strict=True):
        other = info.modality_lut
        same_lut = (lut is None and other is None) or (
            lut is not None and other is not None and lut.first_mapped == other.first_mapped
            and np.array_equal(lut.data, other.data))
        same_rescale = (info.rescale_slope, info.rescale_intercept) == (
            first.rescale_slope, first.rescale_intercept)
        if not (same_lut and same_rescale):
            raise ValueError(
                f"image {image.sop_instance_uid} has another Modality LUT or rescale than "
                f"{images[0].sop_instance_uid}: one presentation state has one Modality LUT"
            )
    modality = str(images[0].header.get("Modality", "")).strip().upper()
    unit = first.rescale_type or ("HU" if modality == "CT" else "US")
    if lut is not None:
        sequence = images[0].header.get("ModalityLUTSequence")
        unit = str(sequence[0].get("ModalityLUTType", "") or unit) if sequence else unit
        # entries are modality values whatever the bit depth: 16-bit words keep them as they
        # are (a presentation state's LUT Descriptor says 8 or 16 bits, C.11.1.1.1)
        table = hd.ModalityLUT(
            lut_type=unit, first_mapped_value=lut.first_mapped,
            lut_data=np.clip(lut.data, 0, 0xFFFF).astype(np.uint16),
            lut_explanation=lut.explanation or None,
        )
        return hd.ModalityLUTTransformation(modality_lut=table)
    return hd.ModalityLUTTransformation(
        rescale_intercept=first.rescale_intercept, rescale_slope=first.rescale_slope,
        rescale_type=unit,
    )


def _voi(image: ViewedImage, view: ViewState) -> list[hd.pr.SoftcopyVOILUTTransformation]:
    """The window of the view, else the frame's own first window, else its first VOI LUT
    (the order `render` and the viewport choose in). Made here for every image rather than
    left to highdicom, which reads a multi-frame image's only from functional groups."""
    import highdicom as hd  # about a second and 10 MiB: only when an object is made
    function = view.voi_function
    window = view.window
    explanation = None
    info = frame_info(image.header, image.frame - 1)
    if window is None and not info.windows:
        if not info.voi_luts:
            raise ValueError(
                f"image {image.sop_instance_uid} has no window or VOI LUT of its own: "
                "the view must give the window it shows"
            )
        lut = info.voi_luts[0]
        table = hd.VOILUT(lut.first_mapped, _voi_words(lut), lut.explanation or None)
        return [hd.pr.SoftcopyVOILUTTransformation(voi_luts=[table])]
    if window is None:
        own = info.windows[0]
        window, function, explanation = (own.center, own.width), own.function, own.explanation
    center, width = window
    voi = hd.pr.SoftcopyVOILUTTransformation(
        window_center=center,
        window_width=width,
        voi_lut_function=None if function is VOIFunction.LINEAR else function.value,
    )
    if explanation:
        # set here: highdicom 0.28 stores a single explanation as a list of its characters
        voi.WindowCenterWidthExplanation = [explanation]  # VM 1-n, one window
    return [voi]


def _voi_words(lut: LUT) -> np.ndarray:
    """The VOI LUT's entries as 16-bit words spanning the same fraction of the output range:
    its output is read against 2**bits - 1 (C.11.2.1.1), and a presentation state's LUT
    Descriptor may only say 8 or 16 bits (dciodvfy holds it to that)."""
    bits = max(lut.bits, 1)
    scaled = np.rint(lut.data.astype(np.float64) * (0xFFFF / ((1 << bits) - 1)))
    return np.clip(scaled, 0, 0xFFFF).astype(np.uint16)


def _annotations(
    images: Sequence[ViewedImage], view: ViewState
) -> tuple[list[hd.pr.GraphicLayer], list[hd.pr.GraphicAnnotation]]:
    """One Graphic Annotation item per frame that has measurements, on one layer."""
    import highdicom as hd  # about a second and 10 MiB: only when an object is made
    if not view.measurements:
        return [], []
    layer = hd.pr.GraphicLayer(MEASUREMENT_LAYER, order=1, description="Measurements")
    layer.GraphicLayerRecommendedDisplayGrayscaleValue = 0xFFFF
    annotations = []
    for image in images:
        objects = []
        for number, measurement in enumerate(view.measurements, 1):
            if not _drawn_on(measurement.sop_instance_uid, measurement.frame, image):
                continue
            try:
                objects.append(drawn(measurement, image))
            except ValueError as exc:
                raise ValueError(f"measurement {number}: {exc}") from None
        if not objects:
            continue
        texts = [o.text for o in objects if o.text is not None]
        annotation = hd.pr.GraphicAnnotation(
            referenced_images=[image.header],
            graphic_layer=layer,
            graphic_objects=[o.graphic for o in objects],
            text_objects=texts or None,
        )
        if image.multi_frame:
            # set here: highdicom takes a frame only for SOP classes whose IOD is multi-frame,
            # and a file's Number of Frames is what counts
            annotation.ReferencedImageSequence[0].ReferencedFrameNumber = image.frame
        annotations.append(annotation)
    for number, measurement in enumerate(view.measurements, 1):
        if not any(_drawn_on(measurement.sop_instance_uid, measurement.frame, image)
                   for image in images):
            raise ValueError(
                f"measurement {number} was drawn on image {measurement.sop_instance_uid} "
                f"frame {measurement.frame or 1}, which is not among the images saved"
            )
    return [layer], annotations


def _drawn_on(sop_instance_uid: str | None, frame: int | None, image: ViewedImage) -> bool:
    if sop_instance_uid is None:
        return True
    return sop_instance_uid == image.sop_instance_uid and frame in (None, image.frame)


def _reference_frames(ps: Dataset, images: Sequence[ViewedImage],
                      frames: dict[str, set[int]]) -> None:
    """Referenced Frame Number for multi-frame images (C.11.11: absent means every frame)."""
    multi = {image.sop_instance_uid for image in images if image.multi_frame}
    for series in ps.ReferencedSeriesSequence:
        for item in series.ReferencedImageSequence:
            uid = item.ReferencedSOPInstanceUID
            if uid in multi:
                numbers = sorted(frames[uid])
                item.ReferencedFrameNumber = numbers if len(numbers) > 1 else numbers[0]


def _displayed_area(image: ViewedImage, view: ViewState) -> Dataset:
    """C.10.4: every pixel the zoom and pan show at least in part. The corners are the pixels
    shown at the top left and bottom right after the rotation and flip, given as 1-based
    column\\row of the image before them; beyond the image they are below 1 or past its size."""
    x0, y0, x1, y1 = view.displayed_area or (0.0, 0.0, image.columns, image.rows)
    left, top = math.floor(x0) + 1, math.floor(y0) + 1
    right, bottom = max(math.ceil(x1), left), max(math.ceil(y1), top)
    corners = {(-1, -1): [left, top], (1, -1): [right, top], (1, 1): [right, bottom],
               (-1, 1): [left, bottom]}
    shown_at = {_turned(side, view.rotation, view.horizontal_flip): corner
                for side, corner in corners.items()}
    item = Dataset()
    item.DisplayedAreaTopLeftHandCorner = shown_at[(-1, -1)]
    item.DisplayedAreaBottomRightHandCorner = shown_at[(1, 1)]
    item.PresentationSizeMode = view.size_mode.value
    spacing = _pixel_spacing(image)
    if spacing is not None:
        item.PresentationPixelSpacing = [float(spacing[0]), float(spacing[1])]
    else:
        if view.size_mode is PresentationSizeMode.TRUE_SIZE:
            raise ValueError(
                f"image {image.sop_instance_uid} has no pixel spacing: TRUE SIZE needs it"
            )
        item.PresentationPixelAspectRatio = _aspect_ratio(image)
    if view.size_mode is PresentationSizeMode.MAGNIFY:
        item.PresentationPixelMagnificationRatio = float(view.magnification or 1.0)
    return item


def _turned(side: tuple[int, int], rotation: int, flip: bool) -> tuple[int, int]:
    """Where a corner of the image (-1 left/top, 1 right/bottom) is shown after turning it
    `rotation` degrees clockwise and then flipping it horizontally (C.10.6)."""
    x, y = side
    for _ in range(rotation // 90):
        x, y = -y, x  # a quarter turn clockwise, rows counted downwards
    return (-x if flip else x, y)


def _pixel_spacing(image: ViewedImage) -> tuple[float, float] | None:
    """Row\\column spacing in mm of the frame: Pixel Spacing (or the frame's own), else Imager
    Pixel Spacing (C.10.4: the physical distance between pixel centres)."""
    info = frame_info(image.header, image.frame - 1)
    return info.pixel_spacing or info.imager_pixel_spacing


def _aspect_ratio(image: ViewedImage) -> list[int]:
    ratio = image.header.get("PixelAspectRatio")
    try:
        vertical, horizontal = (int(v) for v in ratio)
        if vertical > 0 and horizontal > 0:
            return [vertical, horizontal]
    except (TypeError, ValueError):
        pass
    return [1, 1]


def _shutters(ps: Dataset, image: ViewedImage, view: ViewState) -> None:
    """Display Shutter (C.7.6.11): edges and centres in 1-based pixels, clipped to the image.
    The rectangle keeps the pixels whose centres lie inside the drawn box."""
    if not view.shutters:
        return
    shapes = []
    columns, rows = image.columns, image.rows
    for shutter in view.shutters:
        if isinstance(shutter, RectangleShutter):
            left = max(math.ceil(min(shutter.x0, shutter.x1) + 0.5), 1)
            right = min(math.floor(max(shutter.x0, shutter.x1) + 0.5), columns)
            upper = max(math.ceil(min(shutter.y0, shutter.y1) + 0.5), 1)
            lower = min(math.floor(max(shutter.y0, shutter.y1) + 0.5), rows)
            if left > right or upper > lower:
                raise ValueError("rectangular shutter: it keeps no pixel of the image")
            shapes.append("RECTANGULAR")
            ps.ShutterLeftVerticalEdge, ps.ShutterRightVerticalEdge = left, right
            ps.ShutterUpperHorizontalEdge, ps.ShutterLowerHorizontalEdge = upper, lower
        elif isinstance(shutter, CircleShutter):
            radius = round(shutter.radius)
            if radius < 1:
                raise ValueError("circular shutter: its radius is under one pixel")
            shapes.append("CIRCULAR")
            ps.CenterOfCircularShutter = _pixel(shutter.center, columns, rows)
            ps.RadiusOfCircularShutter = radius
        elif isinstance(shutter, PolygonShutter):
            if len(shutter.vertices) < 3:
                raise ValueError("polygonal shutter: it needs at least 3 vertices")
            shapes.append("POLYGONAL")
            ps.VerticesOfThePolygonalShutter = [
                v for point in shutter.vertices for v in _pixel(point, columns, rows)
            ]
    ps.ShutterShape = shapes
    ps.ShutterPresentationValue = view.shutter_value


def _pixel(point: tuple[float, float], columns: int, rows: int) -> list[int]:
    """The 1-based row\\column of the pixel holding `point`, clipped to the image."""
    column = min(max(math.floor(point[0]) + 1, 1), columns)
    row = min(max(math.floor(point[1]) + 1, 1), rows)
    return [row, column]
