"""Text in DICOM headers: character sets (PS3.5 §6.1), person names (PS3.5 §6.2.1), dates.

Decoding itself is pydicom's (`pydicom.charset`); this module only corrects the Specific Character
Set terms that real devices misspell before pydicom sees them, collects what pydicom could not
decode as short warnings that never quote the patient's text, and formats names and dates.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from pydicom.charset import STAND_ALONE_ENCODINGS, convert_encodings, python_encoding
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag
from pydicom.valuerep import CUSTOMIZABLE_CHARSET_VR, PersonName

LOGGER = logging.getLogger(__name__)

DEFAULT_CHARSET = "ISO_IR 6"
_SPECIFIC_CHARACTER_SET = BaseTag(0x00080005)


def _squeeze(term: str) -> str:
    """The spelling-insensitive key of a term: upper case, no blanks, '_' or '-'."""
    return re.sub(r"[\s_\-]+", "", term.upper())


# Every term pydicom knows, keyed by its squeezed spelling: "ISO_IR100", "iso-ir 100" and
# "ISO IR 100" all find "ISO_IR 100".
_DEFINED: dict[str, str] = {_squeeze(term): term for term in python_encoding if term}
# Spellings that are not a defined term with blanks moved, seen in files from real devices.
_ALIASES: dict[str, str] = {
    "UTF8": "ISO_IR 192",
    "UNICODE": "ISO_IR 192",
    "LATIN1": "ISO_IR 100",
    "ISO88591": "ISO_IR 100",
    "ISO8859": "ISO_IR 100",
    # GB2312 / "ISO_IR 58" without code extensions means EUC-CN bytes with no escape sequences;
    # GB18030 is a superset of those bytes and needs no escapes.
    "GB2312": "GB18030",
    "EUCCN": "GB18030",
    "ISOIR58": "GB18030",
    "CP936": "GBK",
    "EUCKR": "ISO 2022 IR 149",
    "SHIFTJIS": "ISO_IR 13",
}


def normalise_charset(terms: str | Sequence[str] | None) -> list[str]:
    """Specific Character Set (0008,0005) values as defined terms (PS3.3 C.12.1.1.2).

    Misspellings are corrected ("ISO_IR100", "iso-ir 100 ", "UTF-8", "GB2312" ...); blank later
    values are dropped; a stand-alone term (ISO_IR 192, GB18030, GBK) keeps no code extensions.
    Unknown terms become the default repertoire. An empty first value stays "" (it means the
    default repertoire, PS3.5 §6.1.2.5.3). The result is never empty.
    """
    return _normalise(terms)[0]


def charset_notes(terms: str | Sequence[str] | None) -> list[str]:
    """The corrections `normalise_charset` makes, one readable line each (no patient data)."""
    return _normalise(terms)[1]


def _as_terms(terms: str | Sequence[str] | None) -> list[str]:
    if terms is None:
        return []
    if isinstance(terms, bytes):
        terms = terms.decode("ascii", errors="replace")
    if isinstance(terms, str):
        # A single string may still hold a backslash-separated multi-value read as one.
        return terms.split("\\")
    return [str(t) for t in terms]


def _normalise(terms: str | Sequence[str] | None) -> tuple[list[str], list[str]]:
    raw = _as_terms(terms)
    if not raw:
        return [DEFAULT_CHARSET], []
    notes: list[str] = []
    out: list[str] = []
    for index, term in enumerate(raw):
        key = _squeeze(term)
        if not key:
            if index == 0:
                out.append("")  # default repertoire as value 1, extensions follow
            continue
        fixed = _DEFINED.get(key) or _ALIASES.get(key)
        if fixed is None:
            notes.append(f"unknown Specific Character Set {term!r}; using the default repertoire")
            fixed = DEFAULT_CHARSET
        elif fixed != term:
            notes.append(f"Specific Character Set {term!r} read as {fixed!r}")
        out.append(fixed)
    if not out:
        return [DEFAULT_CHARSET], notes
    if len(out) > 1 and out[0] in STAND_ALONE_ENCODINGS:
        notes.append(f"{out[0]!r} allows no code extensions; ignoring {', '.join(out[1:])}")
        out = out[:1]
    for term in [t for t in out[1:] if t in STAND_ALONE_ENCODINGS]:
        notes.append(f"{term!r} cannot be a code extension; ignoring it")
        out.remove(term)
    return out, notes


# --- collecting pydicom's warnings ---------------------------------------------------------------

_CAPTURE_LOCK = threading.RLock()  # re-entrant: a nested block in one thread is fine
_QUIET = threading.local()


class _QuietPydicom(logging.Filter):
    """Drop pydicom's own log lines while this thread collects them as warnings.

    Why: we report each problem once, naming the element; pydicom would log it a second time
    without saying which element, and some of its validation messages quote the value.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_QUIET, "active", False)


_FILTER = _QuietPydicom()
logging.getLogger("pydicom").addFilter(_FILTER)


@contextmanager
def pydicom_warnings() -> Iterator[list[str]]:
    """Collect the messages of warnings pydicom issues inside the block, instead of showing them.

    `warnings.catch_warnings` is process-wide, so blocks are serialised with a lock.
    """
    messages: list[str] = []
    with _CAPTURE_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outer = getattr(_QUIET, "active", False)
        _QUIET.active = True
        try:
            yield messages
        finally:
            _QUIET.active = outer
            messages.extend(str(w.message) for w in caught)


def warning_for(label: str, message: str) -> str:
    """Our one-line warning for a pydicom warning about element `label`, without its value."""
    LOGGER.debug("pydicom on %s: %s", label, message)  # may quote the value: DEBUG only
    lowered = message.lower()
    if any(word in lowered for word in ("decode", "encoding", "escape sequence")):
        return (f"{label}: bytes not valid in the declared character set; "
                "shown with replacement characters")
    return f"{label}: value does not conform to its VR"


# --- decoding a dataset --------------------------------------------------------------------------


def decoded_dataset(
    ds: Dataset, keywords: Iterable[str] | None = None
) -> tuple[Dataset, list[str]]:
    """A shallow copy of `ds` whose text is decoded with the corrected character set (PS3.5 §6.1).

    `keywords`: the top-level elements to decode now (None: every element, nested too). Bytes
    invalid in the declared character set become U+FFFD; each problem is one warning naming the
    element, never its value. An element that cannot be read at all is left out of the copy.
    Decode before touching the text of `ds`: an element already converted keeps its old text.
    """
    if keywords is not None:
        # Fast path: one warnings capture for all the elements (a capture per element cost
        # ~1 ms a file on import); only a file that draws a warning is decoded again, element
        # by element, to name the elements at fault.
        keywords = tuple(keywords)
        with pydicom_warnings() as messages:
            quick = _decoded(ds, keywords, per_element=False)
        if not messages:
            return quick
    return _decoded(ds, keywords, per_element=True)


def decoded_values(ds: Dataset, keywords: Iterable[str]) -> tuple[dict[str, Any], list[str]]:
    """The values of the top-level elements `keywords` (those present), text decoded with the
    corrected character set, and the warnings `decoded_dataset` would give.

    The fast path for reading many headers (import): it converts only these elements, straight
    from the raw elements (pydicom's conversion, without a Dataset copy), and leaves `ds`
    untouched. A header that draws any warning, or that needs ISO 2022 escapes removed, goes
    through `decoded_dataset`, which names the elements at fault. Values may be shared with
    earlier calls (a series repeats them): read them, never change them.
    """
    keywords = tuple(keywords)
    with pydicom_warnings() as messages:
        try:
            quick = _quick_values(ds, keywords)
        except Exception as exc:  # the careful path below reports it element by element
            LOGGER.debug("quick header decoding failed: %r", exc)
            quick = None
    if quick is not None and not messages:
        values, found, fresh = quick
        _remember(fresh)  # only conversions that drew no warning: a repeat must warn again
        return values, found
    out, found = decoded_dataset(ds, keywords)
    return {k: out.get(k) for k in keywords if k in out}, found


def _quick_values(ds: Dataset, keywords: tuple[str, ...]) -> _Quick | None:
    """The values, the warnings and the conversions not seen before (for _SEEN); None when the
    header needs the careful path (escape sequences to remove)."""
    declared = _converted(ds, _SPECIFIC_CHARACTER_SET, None)
    terms, found = _normalise(declared.value if declared is not None else None)
    encodings = convert_encodings(terms)
    values: dict[str, Any] = {}
    text: list[tuple[str, list[str]]] = []
    fresh: list[tuple[_SeenKey, _Seen]] = []
    for keyword in keywords:
        tag = _tag_for(keyword)
        if tag is None:
            continue
        raw = ds.get_item(tag)
        if raw is None:
            continue
        key = _seen_key(raw, encodings)
        seen = _SEEN.get(key) if key is not None else None
        if seen is None:
            elem = _converted(ds, tag, encodings)
            if elem is None:
                continue
            shown = None
            if elem.VR in CUSTOMIZABLE_CHARSET_VR:
                shown = [str(v) for v in _values(elem.value)]  # PN decodes on first str()
                if any("\x1b" in v for v in shown):
                    return None
            seen = (elem.value, shown)
            if key is not None:
                fresh.append((key, seen))
        values[keyword], shown = seen
        if shown is not None:
            text.append((keyword, shown))
    if terms[0] in ("", "ISO_IR 6", "ISO 2022 IR 6") and "ISO 2022 IR 100" not in terms:
        found.extend(_repertoire_warning(k) for k, shown in text if _outside_ascii(shown))
    return values, found, fresh


# Values converted before, by everything their conversion depends on: the files of a series
# repeat most of their header (names, dates, geometry but position), so an import converts
# those bytes once per series rather than once per file. Only conversions that drew no warning
# are kept (a repeat must warn again), never one whose VR depends on other elements.
_SeenKey = tuple[Any, ...]
_Seen = tuple[Any, list[str] | None]  # the value, and its text as shown (text VRs)
_Quick = tuple[dict[str, Any], list[str], list[tuple[_SeenKey, _Seen]]]
_SEEN: dict[_SeenKey, _Seen] = {}
_SEEN_MAX = 4096
_SEEN_MAX_BYTES = 256


def _seen_key(raw: DataElement | RawDataElement, encodings: list[str]) -> _SeenKey | None:
    if not isinstance(raw, RawDataElement) or raw.value is None:
        return None
    vr = raw.VR
    if vr is None:  # implicit VR: the dictionary's
        try:
            vr = dictionary_VR(raw.tag)
        except KeyError:
            return None
    if len(raw.value) > _SEEN_MAX_BYTES or " or " in vr:  # US or SS: depends on other elements
        return None
    return (raw.tag, vr, raw.value, raw.is_little_endian, tuple(encodings))


def _remember(fresh: list[tuple[_SeenKey, _Seen]]) -> None:
    if len(_SEEN) + len(fresh) > _SEEN_MAX:
        _SEEN.clear()
    _SEEN.update(fresh)


def _converted(
    ds: Dataset, tag: BaseTag, encodings: list[str] | None
) -> DataElement | None:
    """The element `tag` of `ds` converted with `encodings`, without storing it back in `ds`."""
    elem = ds.get_item(tag)
    if isinstance(elem, RawDataElement):
        return convert_raw_data_element(elem, encoding=encodings, ds=ds)
    return elem


def _decoded(
    ds: Dataset, keywords: Iterable[str] | None, per_element: bool
) -> tuple[Dataset, list[str]]:
    out = Dataset(dict(ds.items()))  # a new element dict: the caller's dataset is not changed
    with pydicom_warnings():  # a misspelt term fails CS validation: reported below instead
        declared = out.get(_SPECIFIC_CHARACTER_SET)
    declared_value: Any = declared.value if declared is not None else None
    terms, notes = _normalise(declared_value)
    if declared is not None and terms != _as_terms(declared_value):
        # A new element: assigning to out.SpecificCharacterSet would change the shared one in `ds`.
        out[_SPECIFIC_CHARACTER_SET] = DataElement(
            _SPECIFIC_CHARACTER_SET, "CS", terms if len(terms) > 1 else terms[0]
        )
    found: list[str] = list(notes)
    if keywords is None:
        _decode_all(out, found, ())
    else:
        for keyword in keywords:
            _decode_element(out, keyword, found, (), per_element)
    if terms[0] in ("", "ISO_IR 6", "ISO 2022 IR 6") and "ISO 2022 IR 100" not in terms:
        found.extend(_outside_default_repertoire(out, keywords))
    if per_element:
        for line in found:
            LOGGER.warning("%s", line)
    return out, found


def _decode_all(ds: Dataset, found: list[str], where: tuple[str, ...]) -> None:
    for tag in list(ds.keys()):
        elem = _decode_element(ds, tag, found, where)
        if elem is not None and elem.VR == "SQ":
            name = keyword_for_tag(elem.tag) or str(elem.tag)
            for index, item in enumerate(elem.value):
                _decode_all(item, found, (*where, f"{name}[{index}]"))


def _decode_element(
    ds: Dataset,
    key: str | BaseTag,
    found: list[str],
    where: tuple[str, ...],
    capture: bool = True,
) -> DataElement | None:
    tag = BaseTag(key) if isinstance(key, BaseTag) else _tag_for(key)
    if tag is None or tag not in ds:
        return None
    label = ".".join((*where, keyword_for_tag(tag) or str(tag)))
    capturing: AbstractContextManager[list[str]] = (
        pydicom_warnings() if capture else nullcontext([])
    )
    with capturing as messages:
        try:
            elem = ds[tag]
            if elem.VR == "PN":
                _ = [str(v) for v in _values(elem.value)]  # PN decodes on first str()
            if elem.VR in CUSTOMIZABLE_CHARSET_VR:
                elem = _without_escapes(ds, elem)
        except Exception as exc:  # a value pydicom cannot convert: drop it, keep the rest
            LOGGER.debug("cannot read %s: %r", label, exc)
            del ds[tag]
            found.append(f"{label}: value cannot be read ({type(exc).__name__}); ignored")
            return None
    found.extend(warning_for(label, message) for message in messages)
    return elem


# An ISO 2022 escape sequence: ESC, 1-3 intermediate bytes, a final byte (ISO/IEC 2022 §13).
_ESCAPE = re.compile("\x1b[\x20-\x2f]{1,3}[\x30-\x7e]")


def _without_escapes(ds: Dataset, elem: DataElement) -> DataElement:
    """Why: pydicom 3.0.2 leaves ESC $ ) A (ISO 2022 IR 58) in the decoded text; the bytes after
    it are EUC-CN and already decoded right, so only the sequence itself has to go."""
    values = [str(v) for v in _values(elem.value)]
    if not any("\x1b" in v for v in values):
        return elem
    cleaned = [_ESCAPE.sub("", v) for v in values]
    # A new element: the old one may be shared with the caller's dataset.
    new = DataElement(elem.tag, elem.VR, cleaned if len(cleaned) > 1 else cleaned[0])
    ds[elem.tag] = new
    return new


def _tag_for(keyword: str) -> BaseTag | None:
    tag = tag_for_keyword(keyword)
    return BaseTag(tag) if tag is not None else None


def _values(value: Any) -> list[Any]:
    if isinstance(value, MultiValue | list | tuple):
        return list(value)
    return [] if value is None else [value]


_LATIN1_HIGH = re.compile("[\x80-\xff]")


def _outside_default_repertoire(ds: Dataset, keywords: Iterable[str] | None) -> list[str]:
    """Text read in the default repertoire (ASCII, pydicom decodes it as Latin-1) that holds
    bytes outside it and outside any escape sequence (PS3.5 §6.1.2.2)."""
    tags = [_tag_for(k) for k in keywords] if keywords is not None else list(ds.keys())
    found = []
    for tag in tags:
        if tag is None or tag not in ds:
            continue
        elem = ds[tag]
        if elem.VR not in CUSTOMIZABLE_CHARSET_VR:
            continue
        if _outside_ascii([str(v) for v in _values(elem.value)]):
            found.append(_repertoire_warning(keyword_for_tag(tag) or str(tag)))
    return found


def _outside_ascii(values: list[str]) -> bool:
    return any(_LATIN1_HIGH.search(v) for v in values)


def _repertoire_warning(name: str) -> str:
    return (f"{name}: bytes outside the declared character set's default repertoire; "
            "shown as ISO_IR 100")


# --- person names ---------------------------------------------------------------------------------


def person_name_groups(value: PersonName | str | None) -> tuple[str, str, str]:
    """The alphabetic, ideographic and phonetic groups of a PN value (PS3.5 §6.2.1), '^' kept."""
    if value is None:
        return ("", "", "")
    groups = value.components if isinstance(value, PersonName) else str(value).split("=")
    padded = [*groups, "", "", ""][:3]
    return (padded[0], padded[1], padded[2])


def format_name_group(group: str) -> str:
    """One name group for display: "Family^Given^Middle^Prefix^Suffix" -> "Family, Prefix Given
    Middle, Suffix" (empty parts dropped)."""
    parts = [p.strip() for p in [*group.split("^"), "", "", "", ""][:5]]
    family, given, middle, prefix, suffix = parts
    rest = " ".join(p for p in (prefix, given, middle) if p)
    text = ", ".join(p for p in (family, rest) if p)
    return f"{text}, {suffix}" if suffix and text else text or suffix


def person_name_text(value: PersonName | str | None) -> str:
    """A person name for display: each non-empty group formatted, groups joined by " = "."""
    shown = [format_name_group(g) for g in person_name_groups(value)]
    return " = ".join(g for g in shown if g)


def person_name_value(value: PersonName | str | None) -> str:
    """The decoded PN value in DICOM form ("Family^Given=Ideographic=Phonetic")."""
    groups = [g.rstrip("^") for g in person_name_groups(value)]  # "^^^^" is an empty name
    while groups and not groups[-1]:
        groups.pop()
    return "=".join(groups)


# --- dates and times -----------------------------------------------------------------------------


def format_date(value: object) -> str:
    """A DA value 'YYYYMMDD' as 'YYYY-MM-DD' (PS3.5 §6.2); anything else is returned as text."""
    text = str(value or "").strip()
    if re.fullmatch(r"\d{8}", text):
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    if re.fullmatch(r"\d{4}\.\d{2}\.\d{2}", text):  # ACR-NEMA form, still written by some devices
        return text.replace(".", "-")
    return text


def format_time(value: object) -> str:
    """A TM value 'HHMMSS.FFFFFF' as 'HH:MM:SS' (fraction dropped; shorter forms kept short)."""
    text = str(value or "").strip()
    match = re.fullmatch(r"(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?(\.\d+)?", text)
    if not match:
        return text
    return ":".join(p for p in match.groups()[:3] if p)
