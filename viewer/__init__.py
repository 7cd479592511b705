"""dicom-viewer: a DICOM workstation. See ARCHITECTURE.md for the rooms and what each may import."""

__version__ = "0.1.0"

# before anything imports pydicom, which would load GDCM at once: see viewer.dicom.lazy_gdcm
from viewer.dicom import lazy_gdcm as _lazy_gdcm  # noqa: E402

_lazy_gdcm.install()

# pydicom's test-data downloader (urllib, http, email, ssl) only when a download is asked for
from viewer.dicom import lazy_download as _lazy_download  # noqa: E402

_lazy_download.install()
