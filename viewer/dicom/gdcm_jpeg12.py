"""A pydicom decoder plugin: JPEG Extended with 12-bit samples through GDCM.

pydicom's own GDCM plugin refuses 12-bit JPEG Extended (process 4), and the only other pydicom
back end for it is pylibjpeg-libjpeg, which is GPL-3. GDCM itself decodes these streams
correctly (checked against DCMTK's dcmdjpeg on pydicom's JPGExtended.dcm), so this plugin hands
the frame to GDCM with a 16-bit allocated / 12-bit stored pixel format. Registered by `codecs`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydicom import uid

if TYPE_CHECKING:
    from pydicom.pixels.decoders.base import DecodeRunner

DECODER_DEPENDENCIES = {uid.JPEGExtended12Bit: ("gdcm>=3.0.10",)}


def is_available(transfer_syntax: str) -> bool:
    try:
        import gdcm  # noqa: F401
    except ImportError:
        return False
    return transfer_syntax in DECODER_DEPENDENCIES


def _decode_frame(src: bytes, runner: DecodeRunner) -> bytes:
    import gdcm

    fragment = gdcm.Fragment()
    fragment.SetByteStringValue(src)
    fragments = gdcm.SequenceOfFragments.New()
    fragments.AddFragment(fragment)
    element = gdcm.DataElement(gdcm.Tag(0x7FE0, 0x0010))
    element.SetValue(fragments.__ref__())

    image = gdcm.Image()
    image.SetNumberOfDimensions(2)
    image.SetDimensions((runner.columns, runner.rows, 1))
    image.SetDataElement(element)
    pi_type = gdcm.PhotometricInterpretation.GetPIType(str(runner.photometric_interpretation))
    image.SetPhotometricInterpretation(gdcm.PhotometricInterpretation(pi_type))
    if runner.samples_per_pixel > 1:
        image.SetPlanarConfiguration(runner.planar_configuration)
    ts_type = gdcm.TransferSyntax.GetTSType(str(runner.transfer_syntax))
    image.SetTransferSyntax(gdcm.TransferSyntax(ts_type))
    bits_stored = runner.bits_stored
    allocated = 8 if bits_stored <= 8 else 16
    runner.set_option("bits_allocated", allocated)
    image.SetPixelFormat(
        gdcm.PixelFormat(
            runner.samples_per_pixel,
            allocated,
            bits_stored,
            bits_stored - 1,
            runner.pixel_representation,
        )
    )
    decoded: str = image.GetBuffer()
    if not decoded:
        raise ValueError("GDCM could not decode the 12-bit JPEG frame")
    return decoded.encode("utf-8", "surrogateescape")
