"""Input files for DICOMization, written here by Pillow (JPEG, PNG) and by hand (PDF)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def photo(rows: int = 96, columns: int = 128) -> np.ndarray:
    """A smooth colour picture (a gradient and a disc): JPEG keeps it close."""
    y, x = np.mgrid[0:rows, 0:columns]
    rgb = np.stack([x * 255 // columns, y * 255 // rows, ((x - 64) ** 2 + (y - 48) ** 2 < 900)
                    * 200], axis=-1)
    return rgb.astype(np.uint8)


def minimal_pdf(pages_text: str = "Report", pad_to_odd: bool = True) -> bytes:
    """A small valid PDF (one page, one line of text); odd length when asked, so that the
    DICOM value needs its pad byte."""
    stream = f"BT /F1 12 Tf 72 720 Td ({pages_text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    if (len(out) % 2 == 0) == pad_to_odd:
        out[-1:-1] = b" "  # one more byte before the last line end
    return bytes(out)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height and that holds no image data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk)))


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """One file of each kind DICOMization takes."""
    folder = tmp_path / "in"
    folder.mkdir()
    rgb = photo()
    files = {
        "jpeg": folder / "wound.jpg",
        "jpeg_grey": folder / "grey.jpg",
        "jpeg_444": folder / "full.jpg",
        "jpeg_progressive": folder / "progressive.jpg",
        "png": folder / "screen.png",
        "png_alpha": folder / "alpha.png",
        "png16": folder / "grey16.png",
        "pdf": folder / "consent.pdf",
    }
    Image.fromarray(rgb).save(files["jpeg"], quality=92)  # 4:2:0 subsampled
    Image.fromarray(rgb[:, :, 1]).save(files["jpeg_grey"], quality=92)
    Image.fromarray(rgb).save(files["jpeg_444"], quality=92, subsampling=0)
    Image.fromarray(rgb).save(files["jpeg_progressive"], quality=92, progressive=True)
    Image.fromarray(rgb).save(files["png"])
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])).save(
        files["png_alpha"])
    Image.fromarray(np.arange(64 * 80, dtype=np.uint16).reshape(64, 80) * 13).save(
        files["png16"])
    files["pdf"].write_bytes(minimal_pdf())
    return files
