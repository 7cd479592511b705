"""The HTTP side of a DICOMweb node: one requests session per job, built by dicomweb-client's
session helpers, with the node's authentication, CA bundle, time-outs and retries, and requests
whose failures are PeerErrors naming the node in one line.

Retries: a GET whose connection could not be made, or that was answered 502, 503 or 504, is
tried again (`retries` times, 0.2 s apart, doubling); a read that fails half way is not (what
arrived is kept, see `wado`). POST (STOW-RS) is retried only when the connection could not be
made: nothing was sent then.

Only the configured service root is ever requested: Orthanc 1.10 builds the URLs it returns from
the Host header, and dicomweb-client's Host has no port, so a server-supplied URL may point to
the wrong port (FACTS.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from viewer.config import NetworkTimeouts, Node
from viewer.net.association import PeerError, describe

if TYPE_CHECKING:
    import requests

LOGGER = logging.getLogger(__name__)

DICOM_JSON = "application/dicom+json"
# PS3.18 8.7.3.5.2: "*" asks for each instance in the transfer syntax it is stored in: the
# bytes the server has, never transcoded
MULTIPART_DICOM = 'multipart/related; type="application/dicom"; transfer-syntax=*'


@dataclass(frozen=True)
class WebAnswer:
    """A response whose status was acceptable; `response` is open when streamed (close it)."""

    response: requests.Response

    @property
    def content_type(self) -> str:
        return str(self.response.headers.get("Content-Type", ""))


class WebSession:
    """Requests to one DICOMweb node (use as a context manager; not shared between threads)."""

    def __init__(self, node: Node, timeouts: NetworkTimeouts | None = None) -> None:
        if node.dicomweb is None:
            raise ValueError(f"node {node.name} is not a DICOMweb node")
        self.node = node
        self.peer = describe(node)
        self.service = node.dicomweb
        timeouts = timeouts or NetworkTimeouts()
        own = self.service.timeout
        self.timeout = (own or timeouts.connect, own or timeouts.network)
        retries = self.service.retries if self.service.retries is not None else timeouts.retries
        self.session = _session(self.service.user, self.service.password, retries)
        if self.service.ca:
            from dicomweb_client.session_utils import add_certs_to_session

            try:
                add_certs_to_session(self.session, ca_bundle=self.service.ca)
            except OSError:
                raise PeerError(self.peer, f"the CA bundle {self.service.ca} does not "
                                "exist") from None

    def __enter__(self) -> WebSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()

    def url(self, *segments: str) -> str:
        """The service root joined with path segments (UIDs: digits and dots only)."""
        return "/".join([self.service.url.rstrip("/"), *segments])

    def _headers(self, accept: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": accept, **(extra or {})}
        if self.service.token_file:
            headers["Authorization"] = f"Bearer {self._token()}"
        return headers

    def _token(self) -> str:
        try:
            token = Path(self.service.token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise PeerError(self.peer, f"cannot read the token file "
                            f"{self.service.token_file}: {reason}") from None
        if not token or any(c.isspace() for c in token):
            raise PeerError(self.peer, f"the token file {self.service.token_file} holds no "
                            "single bearer token")
        return token

    def get(self, segments: Sequence[str], accept: str, query: str = "",
            stream: bool = False) -> WebAnswer:
        """GET the resource under the service root; PeerError unless answered 200 or 204.
        `query` is sent as it is (already encoded: requests would escape `^`, and Orthanc 1.10
        does not decode query values)."""
        import requests

        url = self.url(*segments) + (f"?{query}" if query else "")
        with self._failures():
            prepared = self.session.prepare_request(
                requests.Request("GET", url, headers=self._headers(accept)))
            prepared.url = url
            response = self.session.send(prepared, timeout=self.timeout, stream=stream)
        return self._checked(response, "GET")

    def post(self, segments: Sequence[str], body: Any, content_type: str, accept: str,
             length: int | None = None) -> WebAnswer:
        """POST `body` (bytes or a file-like object read in chunks) under the service root."""
        extra = {"Content-Type": content_type}
        if length is not None:
            extra["Content-Length"] = str(length)
        with self._failures():
            response = self.session.post(self.url(*segments), data=body,
                                         headers=self._headers(accept, extra),
                                         timeout=self.timeout)
        return self._checked(response, "POST", accept_statuses=(200, 202, 204, 409))

    @contextmanager
    def _failures(self) -> Iterator[None]:
        import requests

        try:
            yield
        except requests.exceptions.SSLError as exc:
            raise PeerError(self.peer, f"TLS handshake failed: {_root_cause(exc)}") from None
        except requests.exceptions.ConnectTimeout:
            raise PeerError(self.peer, f"cannot connect: no answer within "
                            f"{self.timeout[0]:g} s") from None
        except requests.exceptions.ConnectionError as exc:
            if _read_timed_out(exc):  # requests calls a read time-out past the retries this
                raise PeerError(self.peer, f"no answer within {self.timeout[1]:g} s") from None
            raise PeerError(self.peer, f"cannot connect: {_root_cause(exc)}") from None
        except requests.exceptions.Timeout:
            raise PeerError(self.peer, f"no answer within {self.timeout[1]:g} s") from None
        except requests.exceptions.RequestException as exc:
            raise PeerError(self.peer, f"HTTP request failed: {_root_cause(exc)}") from None

    def _checked(self, response: requests.Response, method: str,
                 accept_statuses: tuple[int, ...] = (200, 204)) -> WebAnswer:
        status = response.status_code
        if status in accept_statuses:
            return WebAnswer(response)
        detail = _server_message(response)
        response.close()
        if status == 401:
            reason = ("authentication refused: wrong user, password or token" if
                      self.service.auth else "authentication needed: the server asks for "
                      "credentials (nodes add --auth-basic or --token-file)")
            raise PeerError(self.peer, f"{reason} (HTTP 401)")
        if status == 403:
            raise PeerError(self.peer, f"authentication accepted but access forbidden "
                            f"(HTTP 403){detail}")
        if status == 404 and method == "GET" and segments_root(response.url, self.service.url):
            raise PeerError(self.peer, f"not a DICOMweb service root: GET "
                            f"{_path_of(response)} was answered HTTP 404{detail}")
        raise PeerError(self.peer, f"{method} {_path_of(response)}: HTTP {status} "
                        f"{response.reason or ''}{detail}".rstrip())


def segments_root(url: str, root: str) -> bool:
    """Whether `url` is a search of the service root itself (QIDO-RS /studies): a 404 there
    means the root is wrong, not that a study is missing."""
    path = url.split("?", 1)[0].rstrip("/")
    return path == root.rstrip("/") + "/studies"


def _session(user: str, password: str, retries: int) -> requests.Session:
    from dicomweb_client.session_utils import create_session, create_session_from_user_pass
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    session = create_session_from_user_pass(user, password) if user else create_session()
    retry = Retry(total=retries, connect=retries, read=0, other=0, redirect=0,
                  status=retries, status_forcelist=(502, 503, 504),
                  allowed_methods=frozenset({"GET"}), backoff_factor=0.2,
                  raise_on_status=False, respect_retry_after_header=False)
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _read_timed_out(exc: BaseException) -> bool:
    from urllib3.exceptions import ReadTimeoutError

    seen: BaseException | None = exc
    for _ in range(8):  # a short chain: MaxRetryError -> ReadTimeoutError
        if seen is None or isinstance(seen, ReadTimeoutError):
            break
        arguments = [a for a in getattr(seen, "args", ()) if isinstance(a, BaseException)]
        reason = getattr(seen, "reason", None)
        seen = reason if isinstance(reason, BaseException) else (
            arguments[0] if arguments else seen.__cause__ or seen.__context__)
    return isinstance(seen, ReadTimeoutError)


def _root_cause(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error, without their object reprs."""
    seen = exc
    while True:
        inner = getattr(seen, "reason", None) or seen.__cause__ or seen.__context__
        if inner is None or inner is seen or not isinstance(inner, BaseException):
            break
        seen = inner
    text = str(getattr(seen, "strerror", None) or seen)
    # urllib3 prefixes its own object: "<urllib3.connection.HTTPConnection ...>: Failed to..."
    if text.startswith("<") and ">: " in text:
        text = text.split(">: ", 1)[1]
    return text.splitlines()[0] if text else type(seen).__name__


def _path_of(response: requests.Response) -> str:
    from urllib.parse import urlsplit

    return urlsplit(response.url).path or "/"


def _server_message(response: requests.Response) -> str:
    """The server's one-line explanation of an error (Orthanc: JSON `Message`/`Details`)."""
    try:
        if "json" not in response.headers.get("Content-Type", "json"):
            return ""
        document = response.json()
    except Exception:  # an error page that is not JSON: the status says enough
        return ""
    if isinstance(document, dict):
        for key in ("Details", "Message", "message", "error"):
            value = document.get(key)
            if isinstance(value, str) and value.strip():
                return f": {value.strip().splitlines()[0][:200]}"
    return ""
