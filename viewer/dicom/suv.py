"""Body-weight SUV (SUVbw) of a PET image: the factor that turns Bq/ml into g/ml.

PS3.3 C.8.9.1 (PET Series: Units, Decay Correction, Corrected Image, Series Date/Time),
C.8.9.2 (PET Isotope: Radiopharmaceutical Information Sequence) and QIBA's vendor-neutral
pseudo-code for SUV:

    SUVbw = pixel (Bq/ml, after the rescale) * weight (g) / decayed dose (Bq)

where the dose is decay-corrected from the injection (Radiopharmaceutical Start Date/Time) to the
scan time when Decay Correction is START (the images were corrected to the series' start), and
used as injected when it is ADMIN (the images were corrected to the injection already).

The scan time is Series Date/Time (the issue's rule and QIBA's for a series). QIBA's check: the
series time must not be after the earliest Acquisition Date/Time of the series (some consoles
rewrite Series Time when a series is post-processed). When it is, the earliest acquisition
time is used instead and `SUVbw.scan_time` says so. A caller holding the whole series passes
`earliest_acquisition` (see `earliest_acquisition`); for a single file the file's own
Acquisition Date/Time is the only bound known.

Times: a time-only injection (Radiopharmaceutical Start Time) takes the Series Date, and the day
before when it is after the series time (an injection before midnight, a scan after it). UTC
offsets are honoured only when both the injection (a DT with an offset) and the series
(Timezone Offset From UTC) carry one; otherwise both are local times of the same clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset

from viewer.dicom.text import pydicom_warnings

LOGGER = logging.getLogger(__name__)

LN2 = math.log(2.0)


@dataclass(frozen=True)
class SUVbw:
    """`factor`: SUVbw per rescaled pixel value (g/ml per Bq/ml), or None and `reason`, one
    line naming the attribute by its keyword. `scan_time`: which attributes gave the scan time
    the dose was decayed to ("" when no decay correction was needed or the factor is None)."""

    factor: float | None
    reason: str = ""
    scan_time: str = ""


class _Missing(ValueError):
    """One attribute is missing or invalid; str is the reason."""


def suv_bw(ds: Dataset, earliest_acquisition: dt.datetime | None = None) -> SUVbw:
    """The SUVbw factor of a PET image (Modality PT) from its header; see the module docstring.

    `earliest_acquisition`: the earliest Acquisition Date/Time of the series, when the caller
    has read them all (else the file's own is used for QIBA's check).
    """
    try:
        with pydicom_warnings():  # an invalid number is reported by keyword, not as a warning
            return _suv_bw(ds, earliest_acquisition)
    except _Missing as exc:
        return SUVbw(None, str(exc))
    except Exception as exc:  # a damaged header costs the SUV, never the caller's batch
        LOGGER.debug("SUVbw attributes unreadable: %r", exc)
        return SUVbw(None, f"the PET dose attributes cannot be read ({type(exc).__name__})")


def _suv_bw(ds: Dataset, earliest_acquisition: dt.datetime | None) -> SUVbw:
    modality = _text(ds, "Modality")
    if modality != "PT":
        raise _Missing(f"Modality is {modality or 'missing'}, not PT")
    units = _text(ds, "Units")
    if not units:
        raise _Missing("Units is missing")
    if units != "BQML":
        raise _Missing(f"Units is {units}, not BQML")
    corrected = _values(ds, "CorrectedImage")
    for needed in ("ATTN", "DECY"):
        if needed not in corrected:
            what = "missing" if not corrected else "\\".join(corrected)
            raise _Missing(f"CorrectedImage is {what}, without {needed}")
    decay = _text(ds, "DecayCorrection")
    if decay not in ("START", "ADMIN"):
        raise _Missing(f"DecayCorrection is {decay or 'missing'}, not START or ADMIN")
    weight_kg = _positive(ds, "PatientWeight")
    item = _radiopharmaceutical(ds)
    dose = _positive(item, "RadionuclideTotalDose")
    half_life = _positive(item, "RadionuclideHalfLife")
    if decay == "ADMIN":
        return SUVbw(weight_kg * 1000.0 / dose)
    scan, scan_source = _scan_time(ds, earliest_acquisition)
    start = _injection_time(ds, item, scan)
    seconds = (scan - start).total_seconds()
    if seconds < 0:
        raise _Missing(f"RadiopharmaceuticalStartDateTime is after the scan time ({scan_source})")
    decayed = dose * math.exp(-LN2 * seconds / half_life)
    factor = weight_kg * 1000.0 / decayed if decayed > 0 else math.inf
    if not math.isfinite(factor):
        raise _Missing(f"RadiopharmaceuticalStartDateTime is {seconds / half_life:.0f} "
                       "half-lives before the scan time: nothing left to measure")
    return SUVbw(factor, "", scan_source)


def earliest_acquisition(datasets: Iterable[Dataset]) -> dt.datetime | None:
    """The earliest Acquisition Date/Time among a series' headers (None when none has one)."""
    found = [t for t in (_acquisition_time(ds) for ds in datasets) if t is not None]
    return min(found) if found else None


# --- attributes --------------------------------------------------------------------------------


def _text(ds: Dataset, keyword: str) -> str:
    try:
        value = ds.get(keyword)
    except Exception as exc:  # a value pydicom cannot convert counts as invalid
        LOGGER.debug("cannot read %s: %r", keyword, exc)
        raise _Missing(f"{keyword} is invalid") from None
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip().upper()
    return str(value).strip().upper()


def _values(ds: Dataset, keyword: str) -> tuple[str, ...]:
    try:
        value = ds.get(keyword)
    except Exception:
        raise _Missing(f"{keyword} is invalid") from None
    if value is None or value == "":
        return ()
    items = [value] if isinstance(value, str) else list(value)
    return tuple(str(v).strip().upper() for v in items)


def _positive(ds: Dataset, keyword: str) -> float:
    try:
        value: Any = ds.get(keyword)
    except Exception:
        raise _Missing(f"{keyword} is invalid") from None
    if value is None or value == "":
        raise _Missing(f"{keyword} is missing")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Missing(f"{keyword} is invalid ({str(value)[:32]!r})") from None
    if not math.isfinite(number) or number <= 0:
        raise _Missing(f"{keyword} is {number:g}, not a positive number")
    return number


def _radiopharmaceutical(ds: Dataset) -> Dataset:
    try:
        items = ds.get("RadiopharmaceuticalInformationSequence")
    except Exception:
        raise _Missing("RadiopharmaceuticalInformationSequence is invalid") from None
    if not items:
        raise _Missing("RadiopharmaceuticalInformationSequence is missing")
    item: Dataset = items[0]
    return item


# --- dates and times ---------------------------------------------------------------------------

_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_TIME = re.compile(r"^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?$")
_DATETIME = re.compile(r"^(\d{8})(\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?)?([+-]\d{4})?$")
_OFFSET = re.compile(r"^([+-])(\d{2})(\d{2})$")


def _date(text: str) -> dt.date | None:
    m = _DATE.match(text)
    if m is None:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _time(text: str) -> dt.time | None:
    """TM (PS3.5 6.2): HH[MM[SS[.F{1,6}]]], and the ACR-NEMA form with colons."""
    m = _TIME.match(text)
    if m is None:
        return None
    micro = int((m[4] or "0").ljust(6, "0"))
    try:
        return dt.time(int(m[1]), int(m[2] or 0), int(m[3] or 0), micro)
    except ValueError:
        return None


def _offset(text: str) -> dt.timezone | None:
    m = _OFFSET.match(text)
    if m is None:
        return None
    minutes = int(m[2]) * 60 + int(m[3])
    if minutes > 14 * 60:
        return None
    return dt.timezone(dt.timedelta(minutes=-minutes if m[1] == "-" else minutes))


def _date_time(ds: Dataset, date_keyword: str, time_keyword: str) -> dt.datetime:
    date = _date(_text(ds, date_keyword))
    if date is None:
        raise _Missing(f"{date_keyword} is {'invalid' if _text(ds, date_keyword) else 'missing'}")
    time = _time(_text(ds, time_keyword))
    if time is None:
        raise _Missing(f"{time_keyword} is {'invalid' if _text(ds, time_keyword) else 'missing'}")
    return dt.datetime.combine(date, time)


def _parse_dt(text: str) -> tuple[dt.datetime, dt.timezone | None] | None:
    m = _DATETIME.match(text)
    if m is None:
        return None
    date = _date(m[1])
    time = _time(m[2] or "00")
    if date is None or time is None:
        return None
    zone = _offset(m[3]) if m[3] else None
    if m[3] and zone is None:
        return None
    return dt.datetime.combine(date, time), zone


def _series_zone(ds: Dataset) -> dt.timezone | None:
    text = _text(ds, "TimezoneOffsetFromUTC")
    return _offset(text) if text else None


def _acquisition_time(ds: Dataset) -> dt.datetime | None:
    try:
        combined = _text(ds, "AcquisitionDateTime")
        if combined:
            parsed = _parse_dt(combined)
            return parsed[0] if parsed is not None else None
        return _date_time(ds, "AcquisitionDate", "AcquisitionTime")
    except _Missing:
        return None


def _scan_time(ds: Dataset, earliest: dt.datetime | None) -> tuple[dt.datetime, str]:
    series = _date_time(ds, "SeriesDate", "SeriesTime")
    bound = earliest if earliest is not None else _acquisition_time(ds)
    if bound is not None and series > bound:
        LOGGER.debug("series time %s after acquisition %s: QIBA's rule takes the latter",
                     series, bound)
        return bound, "earliest AcquisitionDate/AcquisitionTime (SeriesTime is after it)"
    return series, "SeriesDate/SeriesTime"


def _injection_time(ds: Dataset, item: Dataset, scan: dt.datetime) -> dt.datetime:
    """The injection as a datetime comparable with `scan` (local, or both made UTC)."""
    combined = _text(item, "RadiopharmaceuticalStartDateTime")
    if combined:
        parsed = _parse_dt(combined)
        if parsed is None:
            raise _Missing("RadiopharmaceuticalStartDateTime is invalid")
        start, zone = parsed
        series_zone = _series_zone(ds)
        if zone is not None and series_zone is not None:
            # Both carry an offset: compare in UTC (the scanner and the injection logged on
            # clocks in different zones, as for a tracer injected at another site).
            utc_start = start.replace(tzinfo=zone).astimezone(dt.UTC)
            return utc_start.astimezone(series_zone).replace(tzinfo=None)
        return start
    time_text = _text(item, "RadiopharmaceuticalStartTime")
    if not time_text:
        raise _Missing("RadiopharmaceuticalStartDateTime and RadiopharmaceuticalStartTime "
                       "are missing")
    time = _time(time_text)
    if time is None:
        raise _Missing("RadiopharmaceuticalStartTime is invalid")
    start = dt.datetime.combine(scan.date(), time)
    if start > scan:  # injected before midnight, scanned after it
        start -= dt.timedelta(days=1)
    return start
