"""Reading a multipart/related body (RFC 2046 5.1, PS3.18 8.6.1.2) as it arrives: each part's
bytes go to a sink as they come, so that a study of any size never sits in memory; at most a
chunk and a delimiter's length are held.

A sink is opened per part (`open_part(headers)`), written to, then either `done()` (the closing
delimiter of the part was seen) or `abandon()` (the body ended inside it: a cut response, whose
partial part must not be kept). Problems with the framing itself raise MultipartError; a body
that ends before its final delimiter raises MultipartCut after the completed parts were done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

MAX_PREAMBLE = 64 << 10
MAX_HEADERS = 16 << 10


class MultipartError(Exception):
    """The body is not multipart with the boundary its Content-Type announced."""


class MultipartCut(MultipartError):
    """The body ended before its final delimiter; `parts` were complete."""

    def __init__(self, parts: int, inside_part: bool) -> None:
        where = "inside a part" if inside_part else "between parts"
        super().__init__(f"the response was cut short {where}, after {parts} complete "
                         "part(s)")
        self.parts = parts


class PartSink(Protocol):
    def write(self, data: bytes) -> object: ...

    def done(self) -> None: ...

    def abandon(self) -> None: ...


def boundary_of(content_type: str) -> str:
    """The boundary parameter of a multipart Content-Type; MultipartError when it is not
    multipart/related or names no boundary (RFC 2046 5.1.1: 1-70 characters)."""
    from email.message import Message

    message = Message()
    message["Content-Type"] = content_type
    if message.get_content_type() != "multipart/related":
        raise MultipartError(f"expected multipart/related, got {message.get_content_type()}")
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not 0 < len(boundary) <= 70 or not boundary.isascii():
        raise MultipartError("the multipart Content-Type names no valid boundary")
    return boundary


def read_parts(chunks: Iterable[bytes], boundary: str,
               open_part: Callable[[dict[str, str]], PartSink],
               stop: Callable[[], bool] | None = None) -> int:
    """Split the body `chunks` on `boundary`, streaming each part into a sink from
    `open_part`; the number of complete parts. `stop()` is asked between chunks: when true, the
    open part is abandoned and the count so far returned."""
    reader = _Reader(boundary, open_part)
    try:
        for chunk in chunks:
            if stop is not None and stop():
                reader.abandon()
                return reader.parts
            if reader.feed(chunk):
                return reader.parts
    except BaseException:
        reader.abandon()  # the connection failed inside a part: nothing of it is kept
        raise
    return reader.end()


class _Reader:
    def __init__(self, boundary: str, open_part: Callable[[dict[str, str]], PartSink]) -> None:
        self.delimiter = b"--" + boundary.encode("ascii")
        self.body_end = b"\r\n" + self.delimiter
        self.open_part = open_part
        self.buffer = bytearray()
        self.state = "preamble"
        self.sink: PartSink | None = None
        self.parts = 0

    def abandon(self) -> None:
        if self.sink is not None:
            self.sink.abandon()
            self.sink = None

    def end(self) -> int:
        inside = self.sink is not None
        self.abandon()
        if self.state == "preamble":
            raise MultipartError("no boundary delimiter in the body")
        raise MultipartCut(self.parts, inside)

    def feed(self, chunk: bytes) -> bool:
        """Take a chunk; True once the final delimiter was read."""
        delimiter, body_end = self.delimiter, self.body_end
        keep = len(body_end) - 1
        buffer = self.buffer
        state = self.state
        sink = self.sink
        buffer += chunk
        while True:
            if state == "preamble":
                at = buffer.find(delimiter)
                if at < 0:
                    if len(buffer) > MAX_PREAMBLE:
                        raise MultipartError("no boundary delimiter at the start of the body")
                    break
                del buffer[:at + len(delimiter)]
                state = "after-delimiter"
            if state == "after-delimiter":
                if len(buffer) < 2:
                    break
                if buffer[:2] == b"--":
                    self.state, self.sink = "end", None
                    return True
                state = "headers"
            if state == "headers":
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(buffer) > MAX_HEADERS:
                        raise MultipartError("a part's headers do not end")
                    break
                headers = _headers(bytes(buffer[:end]))
                del buffer[:end + 4]
                sink = self.sink = self.open_part(headers)
                state = "body"
            if state == "body":
                assert sink is not None
                at = buffer.find(body_end)
                if at < 0:
                    if len(buffer) > keep:
                        sink.write(bytes(buffer[:len(buffer) - keep]))
                        del buffer[:len(buffer) - keep]
                    break
                sink.write(bytes(buffer[:at]))
                del buffer[:at + len(body_end)]
                self.sink = None
                sink.done()
                sink = None
                self.parts += 1
                state = "after-delimiter"
        self.state = state
        return False


def _headers(block: bytes) -> dict[str, str]:
    """A part's header block (after the delimiter's line break) as lower-case names."""
    lines = block.decode("latin-1").split("\r\n")
    if lines and lines[0].strip() == "":
        lines = lines[1:]  # the line break that ends the delimiter line
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise MultipartError(f"a part header is not 'Name: value' ({line[:40]!r})")
        headers[name.strip().lower()] = value.strip()
    return headers
