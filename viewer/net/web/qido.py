"""QIDO-RS (PS3.18 10.6): `echo` probes a node's service root, `find` searches it at study,
series or image level and returns the same `FindReport` as a C-FIND (viewer.net.query), so that
`query --json` prints the same keys, values and JSON types over either transport.

What makes the answers alike: the return keys asked for are those a C-FIND asks for
(`query.default_keys`), sent as `includefield` (QIDO's default answer leaves some out, such as
StudyDescription); the DICOM JSON answer becomes a pydicom Dataset and goes through the same
`decoded_result` as a C-FIND identifier; and a key asked for that the server left out comes back
empty, as a C-FIND SCP returns a return key it has no value for (PS3.4 C.4.1.1.3.2). What is only
DIMSE's stays DIMSE's: a C-FIND answer's Retrieve AE Title has no counterpart here, and the
server's Retrieve URL and the other attributes it adds are left out (a Retrieve URL is never
followed, and Orthanc 1.10's lacks the port).

Query values: `*`, `?`, `-`, `.`, `^`, `,` and other URL-safe characters go as they are;
Orthanc 1.10 does not percent-decode query values, so escaping them would match nothing (FACTS.md).
Text outside ASCII is sent percent-encoded UTF-8 as PS3.18 8.3.4.1 asks (a server that does not
decode it, such as Orthanc 1.10, finds nothing or refuses it). A UID list ("1.2\\1.3") is sent
comma-separated (PS3.18 8.3.4.1).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from urllib.parse import quote

from pydicom.datadict import dictionary_VM, dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset

from viewer.config import NetworkTimeouts, Node
from viewer.jobs import CancelToken
from viewer.net.association import PeerError
from viewer.net.echo import EchoResult
from viewer.net.query import (
    FindReport,
    FindResult,
    InformationModel,
    MatchTally,
    QueryLevel,
    decoded_result,
    default_keys,
)
from viewer.net.web.session import DICOM_JSON, WebAnswer, WebSession

LOGGER = logging.getLogger(__name__)

_SAFE = "*?-.^,:/@!$'()_~"


def echo(node: Node, timeouts: NetworkTimeouts | None = None) -> EchoResult:
    """Probe `node`'s service root with a QIDO-RS study search for one study (PS3.18 10.6):
    status 0 when it answers DICOM JSON. Raises PeerError (naming the node) when it cannot be
    reached, refuses our credentials or asks for some (401), has no such root (404), or answers
    something that is not DICOM JSON (an HTML page: not a DICOMweb service root)."""
    started = time.perf_counter()
    with WebSession(node, timeouts) as web:
        answer = web.get(["studies"], DICOM_JSON, "limit=1")
        answer_matches(web, answer)
    return EchoResult(web.peer, 0, time.perf_counter() - started)


def find(
    node: Node,
    level: QueryLevel | str,
    keys: Mapping[str, str | None] | None = None,
    model: InformationModel | str = "study",
    return_keys: Iterable[str] | None = None,
    cancel: CancelToken | None = None,
    timeouts: NetworkTimeouts | None = None,
) -> FindReport:
    """QIDO-RS search of `node` at `level` (study, series or image; QIDO-RS has no patient
    level), with the arguments and result of `viewer.net.query.find`. `model` only chooses the
    default return keys, as for a C-FIND. Raises ValueError for a bad keyword or level,
    PeerError when the node fails (see `echo`) or answers with JSON that is not DICOM JSON.
    `cancel`, checked between matches, ends the report early with `cancelled`."""
    level, model = QueryLevel.of(level), InformationModel.of(model)
    if level is QueryLevel.PATIENT:
        raise ValueError("DICOMweb (QIDO-RS) has no patient level: query at study level")
    keys = dict(keys or {})
    wanted = default_keys(level, model) if return_keys is None else tuple(return_keys)
    segments, path_keys = _resource(level, keys)
    matching = {k: v for k, v in keys.items() if v and k not in path_keys}
    asked = [k for k in dict.fromkeys([*wanted, *keys]) if k not in matching]
    query = _query_string(matching, asked)
    started = time.perf_counter()
    with WebSession(node, timeouts) as web:
        answer = web.get(segments, DICOM_JSON, query)
        matches = answer_matches(web, answer)
    results: list[FindResult] = []
    tally = MatchTally()
    requested = [*dict.fromkeys([*wanted, *keys])]
    cancelled = False
    for match in matches:
        if cancel is not None and cancel.cancelled:
            cancelled = True
            break
        dataset, unreadable = dataset_of_json(match)
        if not tally.is_new_match(Dataset(), dataset):
            continue
        if dataset is None:
            continue
        result = decoded_result(level, dataset)
        if unreadable:
            tally.warn([f"attribute {tag} is not valid DICOM JSON; left empty"
                        for tag in unreadable])
        # the keys asked for, as a C-FIND answers them: servers add others (Orthanc: the
        # study's attributes at series level), and one the server left out comes back empty
        values = {
            keyword: result.values.get(keyword, path_keys.get(keyword, _empty(keyword)))
            for keyword in requested
        }
        result = FindResult(level, values, result.warnings)
        results.append(result)
        tally.warn(result.warnings)
    LOGGER.info("QIDO-RS %s at %s level: %d match(es)", web.peer, level.value, tally.matches)
    return FindReport(web.peer, level, model, tuple(results), 0xFE00 if cancelled else 0,
                      cancelled, time.perf_counter() - started, tuple(tally.warnings),
                      tally.lost)


def _resource(level: QueryLevel, keys: Mapping[str, str | None]
              ) -> tuple[list[str], dict[str, str]]:
    """The QIDO-RS resource (PS3.18 10.6.1.2) for `level`: under the study (and series) when
    the keys name exactly one, whose UIDs then travel in the path."""
    path_keys: dict[str, str] = {}
    segments: list[str] = []
    for keyword, segment in (("StudyInstanceUID", "studies"), ("SeriesInstanceUID", "series")):
        value = keys.get(keyword) or ""
        if level is QueryLevel.STUDY or (keyword == "SeriesInstanceUID" and
                                         level is QueryLevel.SERIES):
            break
        if not _single_uid(value) or (keyword == "SeriesInstanceUID" and not path_keys):
            break
        segments += [segment, value]
        path_keys[keyword] = value
    top = {QueryLevel.STUDY: "studies", QueryLevel.SERIES: "series"}.get(level, "instances")
    return [*segments, top], path_keys


def _single_uid(value: str) -> bool:
    return bool(value) and all(c.isdigit() or c == "." for c in value)


def _query_string(matching: Mapping[str, str | None], asked: Iterable[str]) -> str:
    """`Keyword=value` matches and one `includefield=ggggeeee` per return key."""
    params: list[str] = []
    for keyword, value in matching.items():
        tag = tag_for_keyword(keyword)
        if tag is None:
            raise ValueError(f"keys: {keyword!r} is not a DICOM keyword")
        text = str(value)
        if dictionary_VR(tag) == "UI":
            text = text.replace("\\", ",")
        params.append(f"{keyword}={quote(text, safe=_SAFE)}")
    for keyword in asked:
        tag = tag_for_keyword(keyword)
        if tag is None:
            raise ValueError(f"keys: {keyword!r} is not a DICOM keyword")
        params.append(f"includefield={tag:08X}")
    return "&".join(params)


def answer_matches(web: WebSession, answer: WebAnswer) -> list[object]:
    """The objects of a DICOM JSON answer (QIDO-RS matches, WADO-RS metadata: a JSON array;
    204: none). PeerError for anything
    else: an HTML page (not a DICOMweb service root), JSON that cannot be read."""
    response = answer.response
    if response.status_code == 204 or not response.content.strip():
        return []
    kind = answer.content_type.split(";")[0].strip().lower()
    if kind and "json" not in kind:
        raise PeerError(web.peer, f"not a DICOMweb service: the answer is {kind}, not DICOM "
                        "JSON (is the URL the service root?)")
    try:
        document = json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PeerError(web.peer, f"the answer is not valid JSON ({exc})") from None
    if not isinstance(document, list):
        raise PeerError(web.peer, "the answer is not DICOM JSON (not an array of datasets)")
    return document


def dataset_of_json(match: object) -> tuple[Dataset | None, tuple[str, ...]]:
    """One DICOM JSON object (PS3.18 F.2) as a Dataset (None when it is not an object), and
    the tags of the attributes that are not valid DICOM JSON, left out: one bad value never
    loses a whole match. Bulk data given by URI (a server's choice for large values) is left
    empty, never fetched: URLs from the server are not followed (viewer.net.web.session)."""
    if not isinstance(match, dict):
        return None, ()
    try:
        return _from_json(match), ()
    except Exception:  # pydicom raises many kinds for damaged DICOM JSON: one by one then
        pass
    dataset = Dataset()
    unreadable = []
    for tag, value in match.items():
        try:
            dataset.update(_from_json({tag: value}))
        except Exception as exc:
            LOGGER.debug("a QIDO-RS attribute %s is not DICOM JSON: %r", tag, exc)
            unreadable.append(str(tag)[:16])
    return dataset, tuple(unreadable)


def _from_json(match: dict[str, object]) -> Dataset:
    dataset = Dataset.from_json(match, bulk_data_uri_handler=_no_bulk_data)
    for element in dataset:  # from_json is lazy about some values: convert now
        _ = element.value
    return dataset


def _no_bulk_data(tag: str, vr: str, uri: str) -> None:
    return None


def _empty(keyword: str) -> str | tuple[str, ...]:
    """The value `decoded_result` gives a key returned empty."""
    return () if dictionary_VM(keyword) != "1" else ""
