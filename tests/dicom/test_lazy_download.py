"""viewer.dicom.lazy_download: pydicom's downloader stays out until a download is asked for."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_pydicom_through_the_viewer_loads_no_http_client() -> None:
    out = run("""
        import sys
        import viewer, pydicom
        from pydicom.data import get_testdata_file
        from viewer.dicom.lazy_download import LazyDownload
        assert get_testdata_file("CT_small.dcm").endswith("CT_small.dcm")
        assert isinstance(sys.modules["pydicom.data.download"], LazyDownload)
        print(sorted(m for m in ("urllib.request", "http.client", "ssl")
                     if m in sys.modules))
    """)
    assert out == "[]"


def test_the_downloader_loads_when_used_and_answers_as_itself() -> None:
    out = run("""
        import sys
        import viewer, pydicom
        from pydicom.data import data_manager, get_testdata_file
        url_map = data_manager.get_url_map()  # a function data_manager imported at import
        assert "urllib.request" in sys.modules and isinstance(url_map, dict) and url_map
        import pydicom.data.download as real
        assert type(real).__name__ == "module" and real.get_url_map() == url_map
        # pydicom-data's files are checked against its hashes through the downloader
        path = get_testdata_file("emri_small_jpeg_2k_lossless.dcm", download=False)
        assert path is not None and path.endswith(".dcm")
        print(data_manager.get_url_map is not real.get_url_map, callable(real.get_config_dir))
    """)
    assert out == "True True"
