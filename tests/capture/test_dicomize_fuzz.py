"""Damaged photos and documents (the house rule "fuzz what reads files"): seeded mutations of a
baseline, a progressive and a greyscale JPEG, an RGB and a 16-bit PNG and a PDF (bytes changed,
cut short, inserted, removed) given to `dicomize` one at a time. Each is either DICOMized (exit
0, its instance readable and valid enough to show) or refused (exit 2, one line naming the file,
nothing imported); never a traceback or a library's warning text, and the archive stays
consistent for `check`."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.net.test_web_fuzz import _mutate
from viewer.archive.archive import Archive
from viewer.cli import main

pytestmark = pytest.mark.timeout(300)

KINDS = ("jpeg", "jpeg_progressive", "jpeg_grey", "png", "png16", "pdf")


def test_damaged_inputs_are_dicomized_or_named(
        tmp_path: Path, inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(4)
    archive_dir = tmp_path / "archive"
    mutants = tmp_path / "mutants"
    mutants.mkdir()
    outcomes = {0: 0, 2: 0}
    imported = 0
    for n in range(120):
        kind = KINDS[n % len(KINDS)]
        source = inputs[kind]
        path = mutants / f"{n:03d}{source.suffix}"
        path.write_bytes(_mutate(source.read_bytes(), rng))
        code = main(["--archive", str(archive_dir), "dicomize", str(path),
                     "--patient-id", "P-1", "--patient-name", "DOE^JANE"])
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        context = f"{path.name} ({kind}): exit {code}\n{captured.err}"
        assert code in outcomes, context
        assert not any("Traceback" in line or "Warning" in line for line in lines), context
        outcomes[code] += 1
        if code == 2:
            assert len(lines) == 1 and path.name in lines[0], context
        else:
            imported += 1
            assert all(path.name in line for line in lines), context  # notes name the file
    assert outcomes[0] > 10 and outcomes[2] > 10, outcomes
    with Archive(archive_dir) as archive:
        studies = archive.index.search_studies()
        instances = sum(study.number_of_instances for study in studies)
    assert instances == imported  # one instance per file DICOMized, none from a refused one
    assert main(["--archive", str(archive_dir), "check"]) == 0
