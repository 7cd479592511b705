"""SUVbw factors against values computed by hand from the header numbers (PS3.3 C.8.9, QIBA)."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from typing import Any

import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from viewer.dicom.suv import earliest_acquisition, suv_bw

# 75 kg, 370 MBq F-18 (half-life 6586.2 s) injected at 09:30:00, series at 10:30:00: one hour.
# decayed dose = 3.7e8 * 0.5 ** (3600 / 6586.2) = 2.5331e8 Bq;
# factor = 75000 g / 2.5331e8 Bq = 2.96075e-4 g/ml per Bq/ml.
ONE_HOUR = 75000 / (3.7e8 * 0.5 ** (3600 / 6586.2))


def pet_header(**changes: Any) -> Dataset:
    """A PET header as a scanner writes it; `changes` set (value) or delete (None) attributes,
    `Radio_<keyword>` those of the Radiopharmaceutical Information item."""
    ds = Dataset()
    ds.Modality = "PT"
    ds.Units = "BQML"
    ds.DecayCorrection = "START"
    ds.CorrectedImage = ["DECY", "ATTN", "SCAT", "DTIM", "RAN", "NORM"]
    ds.PatientWeight = "75"
    ds.SeriesDate = "20261207"
    ds.SeriesTime = "103000"
    ds.AcquisitionDate = "20261207"
    ds.AcquisitionTime = "103000"
    item = Dataset()
    item.Radiopharmaceutical = "Fluorodeoxyglucose"
    item.RadionuclideTotalDose = "370000000"
    item.RadionuclideHalfLife = "6586.2"
    item.RadiopharmaceuticalStartTime = "093000"
    ds.RadiopharmaceuticalInformationSequence = Sequence([item])
    with warnings.catch_warnings():  # some changes are invalid on purpose
        warnings.simplefilter("ignore")
        for key, value in changes.items():
            target, keyword = (item, key[6:]) if key.startswith("Radio_") else (ds, key)
            if value is None:
                if keyword in target:
                    delattr(target, keyword)
            else:
                setattr(target, keyword, value)
    return ds


def test_start_decays_the_dose_from_injection_to_series_time() -> None:
    found = suv_bw(pet_header())
    assert found.reason == ""
    assert found.factor == pytest.approx(ONE_HOUR, rel=1e-12)
    assert found.factor == pytest.approx(2.96075e-4, rel=1e-5)
    assert found.scan_time == "SeriesDate/SeriesTime"


def test_admin_takes_the_dose_as_injected() -> None:
    found = suv_bw(pet_header(DecayCorrection="ADMIN"))
    assert found.factor == pytest.approx(75000 / 3.7e8, rel=1e-12)  # 2.027e-4


def test_start_date_time_is_preferred_to_start_time() -> None:
    # The DT says 10:00 (30 min), the TM still says 09:30: the DT wins.
    found = suv_bw(pet_header(Radio_RadiopharmaceuticalStartDateTime="20261207100000"))
    assert found.factor == pytest.approx(75000 / (3.7e8 * 0.5 ** (1800 / 6586.2)), rel=1e-12)


def test_injection_before_midnight_scan_after_it() -> None:
    # Injected 23:45:00, series 00:45:00 the next day (Series Date is the scan's day): 3600 s.
    header = pet_header(SeriesDate="20261208", SeriesTime="004500", AcquisitionDate="20261208",
                        AcquisitionTime="004500", Radio_RadiopharmaceuticalStartTime="234500")
    assert suv_bw(header).factor == pytest.approx(ONE_HOUR, rel=1e-12)
    # The same with a full DT across the date line.
    header = pet_header(SeriesDate="20261208", SeriesTime="004500", AcquisitionDate="20261208",
                        AcquisitionTime="004500",
                        Radio_RadiopharmaceuticalStartDateTime="20261207234500")
    assert suv_bw(header).factor == pytest.approx(ONE_HOUR, rel=1e-12)


def test_fractional_seconds_and_colon_times() -> None:
    # 09:30:00.5 to 10:30:00: 3599.5 s; the ACR-NEMA "10:30:00" form reads as 103000.
    header = pet_header(SeriesTime="10:30:00", AcquisitionTime=None,
                        Radio_RadiopharmaceuticalStartTime="093000.5")
    expected = 75000 / (3.7e8 * 0.5 ** (3599.5 / 6586.2))
    assert suv_bw(header).factor == pytest.approx(expected, rel=1e-12)


def test_time_zone_offsets_count_only_when_both_are_given() -> None:
    # Injected 09:30 at UTC+0200 (07:30 UTC); the scanner is at UTC+0100 (10:30 local = 09:30
    # UTC): two hours.
    both = pet_header(TimezoneOffsetFromUTC="+0100",
                      Radio_RadiopharmaceuticalStartDateTime="20261207093000+0200")
    two_hours = 75000 / (3.7e8 * 0.5 ** (7200 / 6586.2))
    assert suv_bw(both).factor == pytest.approx(two_hours, rel=1e-12)
    # Only the injection has one: both are taken as local times of one clock (one hour).
    one = pet_header(Radio_RadiopharmaceuticalStartDateTime="20261207093000+0200")
    assert suv_bw(one).factor == pytest.approx(ONE_HOUR, rel=1e-12)


def test_series_time_after_the_earliest_acquisition_uses_the_acquisition() -> None:
    # QIBA: a Series Time later than the acquisition was rewritten (post-processing): the
    # earliest Acquisition Time is the scan time: 10:00, 30 min after the injection.
    header = pet_header(SeriesTime="120000", AcquisitionTime="100000")
    found = suv_bw(header)
    assert found.factor == pytest.approx(75000 / (3.7e8 * 0.5 ** (1800 / 6586.2)), rel=1e-12)
    assert "AcquisitionTime" in found.scan_time
    # A series-level caller passes the earliest of all files.
    later = [pet_header(AcquisitionTime=t) for t in ("103500", "103100", "104000")]
    earliest = earliest_acquisition(later)
    assert earliest == dt.datetime(2026, 12, 7, 10, 31)
    assert suv_bw(pet_header(), earliest).factor == pytest.approx(ONE_HOUR, rel=1e-12)
    # Acquisition after the series start (the normal case) leaves the series time.
    assert suv_bw(pet_header(AcquisitionTime="110000")).factor == pytest.approx(ONE_HOUR)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"Modality": "CT"}, "Modality is CT, not PT"),
        ({"Units": None}, "Units is missing"),
        ({"Units": "CNTS"}, "Units is CNTS, not BQML"),
        ({"CorrectedImage": ["ATTN"]}, "CorrectedImage is ATTN, without DECY"),
        ({"CorrectedImage": ["DECY"]}, "CorrectedImage is DECY, without ATTN"),
        ({"CorrectedImage": None}, "CorrectedImage is missing, without ATTN"),
        ({"DecayCorrection": "NONE"}, "DecayCorrection is NONE, not START or ADMIN"),
        ({"DecayCorrection": None}, "DecayCorrection is missing, not START or ADMIN"),
        ({"PatientWeight": None}, "PatientWeight is missing"),
        ({"PatientWeight": "0"}, "PatientWeight is 0, not a positive number"),
        ({"RadiopharmaceuticalInformationSequence": Sequence()},
         "RadiopharmaceuticalInformationSequence is missing"),
        ({"Radio_RadionuclideTotalDose": None}, "RadionuclideTotalDose is missing"),
        ({"Radio_RadionuclideHalfLife": None}, "RadionuclideHalfLife is missing"),
        ({"Radio_RadiopharmaceuticalStartTime": None},
         "RadiopharmaceuticalStartDateTime and RadiopharmaceuticalStartTime are missing"),
        ({"Radio_RadiopharmaceuticalStartTime": "99xx"}, "RadiopharmaceuticalStartTime is invalid"),
        ({"SeriesTime": None}, "SeriesTime is missing"),
        ({"SeriesDate": None}, "SeriesDate is missing"),
        ({"SeriesDate": "2026-12-07"}, "SeriesDate is invalid"),
        ({"Radio_RadiopharmaceuticalStartDateTime": "20261207110000"},
         "RadiopharmaceuticalStartDateTime is after the scan time (SeriesDate/SeriesTime)"),
        # 1 January 1900 to 7 December 2026 is 46,361 days = 4.0056e9 s: 608,179 F-18 half-lives.
        ({"Radio_RadiopharmaceuticalStartDateTime": "19000101103000"},
         "RadiopharmaceuticalStartDateTime is 608179 half-lives before the scan time: "
         "nothing left to measure"),
        ({"SeriesDate": "00010101", "SeriesTime": "000001"},
         "the PET dose attributes cannot be read (OverflowError)"),
    ],
    ids=lambda v: v if isinstance(v, str) else ",".join(v),
)
def test_missing_or_invalid_attribute_is_named(changes: dict[str, Any], reason: str) -> None:
    found = suv_bw(pet_header(**changes))
    assert found.factor is None
    assert found.reason == reason


def test_admin_needs_no_times() -> None:
    header = pet_header(DecayCorrection="ADMIN", SeriesTime=None,
                        Radio_RadiopharmaceuticalStartTime=None)
    assert suv_bw(header).factor == pytest.approx(75000 / 3.7e8, rel=1e-12)


def test_invalid_number_is_named_without_a_warning(recwarn: pytest.WarningsRecorder) -> None:
    header = pet_header()
    # As read from a file: the raw bytes, converted (and found invalid) only when accessed.
    tag = Tag("PatientWeight")
    header._dict[tag] = RawDataElement(tag, "DS", 8, b"seventy ", 0, True, True)
    found = suv_bw(header)
    assert found.factor is None
    assert found.reason.startswith("PatientWeight is invalid")
    assert not recwarn.list
    assert math.isfinite(suv_bw(pet_header()).factor or math.nan)
