"""Which decoder plugin handles which transfer syntax, chosen by measured speed and by licence.

pydicom 3 owns the decoders (`pydicom.pixels`); we only choose the back end per syntax:
- JPEG (baseline, extended, lossless, SV1), JPEG-LS and JPEG 2000 -> GDCM (BSD). Measured here it is
  the fastest decoder for these syntaxes (pylibjpeg-libjpeg is 3.1-3.4x slower on JPEG lossless and
  JPEG-LS and is GPL-3, so we do not ship it; pylibjpeg-openjpeg is 1.45x GDCM on JPEG 2000).
- HTJ2K -> pylibjpeg-openjpeg (MIT/BSD), the only back end here that decodes it.
- RLE Lossless -> pylibjpeg-rle, about ten times faster than GDCM on RLE.
- JPEG Extended with 12-bit samples -> our `gdcm_jpeg12` plugin (pydicom's GDCM plugin refuses it).
- Native and deflated syntaxes need no plugin.
When the preferred plugin fails on a frame, the other available plugins are tried before giving up,
since encoders in the field produce streams one library tolerates and another does not.
"""

from __future__ import annotations

import re

from pydicom import uid

PREFERRED_PLUGIN: dict[str, str] = {
    uid.JPEGBaseline8Bit: "gdcm",
    uid.JPEGExtended12Bit: "gdcm",  # 8-bit; 12-bit falls through to gdcm-jpeg12
    uid.JPEGLossless: "gdcm",
    uid.JPEGLosslessSV1: "gdcm",
    uid.JPEGLSLossless: "gdcm",
    uid.JPEGLSNearLossless: "gdcm",
    uid.JPEG2000Lossless: "gdcm",
    uid.JPEG2000: "gdcm",
    uid.HTJ2KLossless: "pylibjpeg",
    uid.HTJ2KLosslessRPCL: "pylibjpeg",
    uid.HTJ2K: "pylibjpeg",
    uid.RLELossless: "pylibjpeg",
}

# Beside other workers each decoder should use one core: GDCM's JPEG 2000 (OpenJPEG inside) runs
# on ~1.7 cores per frame, so two GDCM workers on two cores only contend. Single-threaded
# pylibjpeg-openjpeg costs less CPU per frame (measured here: 43 ms on one core against GDCM's
# 28 ms wall on 1.7 cores), so a pool of workers decodes JPEG 2000 faster with it.
PARALLEL_PREFERRED_PLUGIN: dict[str, str] = {
    uid.JPEG2000Lossless: "pylibjpeg",
    uid.JPEG2000: "pylibjpeg",
}

NATIVE_SYNTAXES = frozenset(
    {
        uid.ImplicitVRLittleEndian,
        uid.ExplicitVRLittleEndian,
        uid.ExplicitVRBigEndian,
        uid.DeflatedExplicitVRLittleEndian,
    }
)


_UID = re.compile(r"[0-9][0-9.]{0,63}")  # PS3.5 9.1: digits and dots, at most 64
_registered = False
_beside_other_workers = False


def prefer_single_threaded() -> None:
    """This process is one of several decode workers: prefer single-threaded decoders."""
    global _beside_other_workers  # noqa: PLW0603 - a per-process setting, made once at start
    _beside_other_workers = True


def register_plugins() -> None:
    """Add our plugins to pydicom's decoder registry (once per process; workers call it too)."""
    global _registered  # noqa: PLW0603 - a once-per-process flag
    if _registered:
        return
    from pydicom.pixels import get_decoder

    try:
        import gdcm

        # GDCM writes its codecs' complaints to stderr; our errors carry the reason instead, so
        # the CLI keeps its one-line-per-problem stderr contract.
        gdcm.Trace.WarningOff()
        gdcm.Trace.ErrorOff()
        gdcm.Trace.DebugOff()
    except ImportError:
        pass
    decoder = get_decoder(uid.JPEGExtended12Bit)
    if "gdcm-jpeg12" not in decoder._available and "gdcm-jpeg12" not in decoder._unavailable:
        decoder.add_plugin("gdcm-jpeg12", ("viewer.dicom.gdcm_jpeg12", "_decode_frame"))
    _registered = True


class NoDecoderError(Exception):
    """No installed plugin decodes this transfer syntax."""


def plugin_order(transfer_syntax: str) -> list[str]:
    """The plugins to try for `transfer_syntax`, preferred first; [""] for native data.

    Raises NoDecoderError for an unknown syntax or one whose plugins are all missing.
    """
    if transfer_syntax in NATIVE_SYNTAXES:
        return [""]
    if not _UID.fullmatch(transfer_syntax):  # damaged bytes, not a UID: never quote them
        raise NoDecoderError("invalid Transfer Syntax UID (not a UID)")
    from pydicom.pixels import get_decoder

    register_plugins()
    try:
        decoder = get_decoder(uid.UID(transfer_syntax))
    except NotImplementedError:
        raise NoDecoderError(f"unsupported transfer syntax {transfer_syntax}") from None
    available = list(decoder.available_plugins)
    if not available:
        missing = "; ".join(decoder.missing_dependencies) or "none installed"
        raise NoDecoderError(f"no decoder installed for {uid.UID(transfer_syntax).name}: {missing}")
    preferred = PREFERRED_PLUGIN.get(transfer_syntax)
    if _beside_other_workers:
        preferred = PARALLEL_PREFERRED_PLUGIN.get(transfer_syntax, preferred)
    if preferred in available:
        available.remove(preferred)
        available.insert(0, preferred)
    return available


def syntax_name(transfer_syntax: str) -> str:
    """The registered name of a transfer syntax UID, or the UID itself when unknown."""
    name = uid.UID(transfer_syntax).name
    return name or transfer_syntax
