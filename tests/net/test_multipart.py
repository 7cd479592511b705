"""The streaming multipart reader (viewer.net.web.multipart) on bodies split anywhere: a
delimiter, a header block or a CRLF cut between two chunks must not change the parts."""

from __future__ import annotations

import os

import pytest

from viewer.net.web.multipart import MultipartCut, MultipartError, boundary_of, read_parts


class Sink:
    def __init__(self, headers: dict[str, str], done: list[bytes], dropped: list[bytes]
                 ) -> None:
        self.headers = headers
        self.data = bytearray()
        self._done, self._dropped = done, dropped

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)

    def done(self) -> None:
        self._done.append(bytes(self.data))

    def abandon(self) -> None:
        self._dropped.append(bytes(self.data))


# parts that look like the delimiter's start: CR LF and dashes inside the data
PARTS = [os.urandom(3000) + b"\r\n--b0und" + os.urandom(10), b"", b"\r\n\r\n--", os.urandom(70)]


def _body(parts: list[bytes], boundary: bytes = b"b0undary") -> bytes:
    return b"preamble to ignore\r\n" + b"".join(
        b"--" + boundary + b"\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n"
        for p in parts) + b"--" + boundary + b"--\r\nepilogue"


def _read(body: bytes, step: int) -> tuple[int, list[bytes], list[bytes]]:
    done: list[bytes] = []
    dropped: list[bytes] = []
    chunks = (body[i:i + step] for i in range(0, len(body), step))
    count = read_parts(chunks, "b0undary", lambda h: Sink(h, done, dropped))
    return count, done, dropped


@pytest.mark.parametrize("step", [1, 2, 7, 13, 64, 1000, 1 << 20])
def test_parts_survive_any_split(step: int) -> None:
    count, done, dropped = _read(_body(PARTS), step)
    assert count == len(PARTS) and done == PARTS and not dropped


@pytest.mark.parametrize("step", [1, 9, 1 << 20])
def test_a_cut_body_keeps_the_complete_parts_and_drops_the_open_one(step: int) -> None:
    body = _body(PARTS)
    cut = body.index(PARTS[3]) + 20  # inside the fourth part
    done: list[bytes] = []
    dropped: list[bytes] = []
    chunks = (body[:cut][i:i + step] for i in range(0, cut, step))
    with pytest.raises(MultipartCut) as caught:
        read_parts(chunks, "b0undary", lambda h: Sink(h, done, dropped))
    assert caught.value.parts == 3 and done == PARTS[:3] and len(dropped) == 1


def test_another_boundary_is_malformed() -> None:
    with pytest.raises(MultipartError, match="no boundary delimiter"):
        _read(_body(PARTS, b"other"), 100)


@pytest.mark.parametrize("content_type,expected", [
    ('multipart/related; type="application/dicom"; boundary=abc', "abc"),
    ('multipart/related; boundary="a b:c"; type="application/dicom"', "a b:c"),
])
def test_boundary_of(content_type: str, expected: str) -> None:
    assert boundary_of(content_type) == expected


@pytest.mark.parametrize("content_type", [
    'multipart/related; type="application/dicom"', "text/html", "multipart/related; boundary=",
])
def test_boundary_of_refuses(content_type: str) -> None:
    with pytest.raises(MultipartError):
        boundary_of(content_type)
