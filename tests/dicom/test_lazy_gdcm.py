"""viewer.dicom.lazy_gdcm: GDCM is loaded by the first frame that needs it, not by importing
pydicom, and everything that imported the stand-in then works with the real GDCM."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_the_decoders_does_not_load_gdcm_and_a_jpeg_frame_does() -> None:
    out = _run("""
        import sys
        import viewer  # installs the stand-in
        import pydicom
        from pydicom import uid
        from pydicom.data import get_testdata_file
        from pydicom.pixels import get_decoder
        import viewer.decode.worker, viewer.dicom.pixels, viewer.dicom.codecs
        assert "_gdcm" not in sys.modules, "GDCM loaded on import"
        assert "gdcm" in get_decoder(uid.JPEGLSLossless).available_plugins
        from viewer.dicom.pixels import decode_frame
        native = decode_frame(get_testdata_file("CT_small.dcm"), 0)
        assert "_gdcm" not in sys.modules, "GDCM loaded for an uncompressed frame"
        path = get_testdata_file("JPEGLSNearLossless_08.dcm")
        frame = decode_frame(path, 0)
        assert "_gdcm" in sys.modules
        import gdcm
        reference = pydicom.dcmread(path).pixel_array
        assert (frame.array == reference).all()
        print(gdcm.Version.GetVersion(), sys.modules["gdcm"].Version.GetVersion())
    """)
    lazy, real = out.split()
    assert lazy == real  # pydicom's version check saw what GDCM itself says


def test_gdcm_imported_before_viewer_is_left_alone() -> None:
    out = _run("""
        import sys
        import gdcm
        import viewer
        from viewer.dicom.lazy_gdcm import LazyGDCM
        print(isinstance(sys.modules["gdcm"], LazyGDCM), sys.modules["gdcm"] is gdcm)
    """)
    assert out == "False True"
