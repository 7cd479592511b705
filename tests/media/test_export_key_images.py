"""CD export of the key images only (`export --key-images`): the images a Key Object Selection
flags, the document and the presentation state its items name, nothing else; a DICOMDIR that
DCMTK reads (dcmdump) and accepts (dcmmkdir), with the records those objects need."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydicom.fileset import FileSet
from pydicom.sr.codedict import codes

from tests.dicom.makers import save
from tests.dicom.referencing import ct_series, key_object_document, presentation_state
from tests.media.test_export import check_fileset
from viewer.archive.archive import Archive
from viewer.cli import main as cli_main
from viewer.media.export import ExportError, export_studies


@pytest.fixture
def flagged(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Four images; a KOS flags the first (seen with a GSPS) and the third (with none); a
    second GSPS of the second image that no KOS names."""
    images = ct_series(4)
    ps = presentation_state(images[:1], "KEY")
    unrelated = presentation_state(images[1:2], "OTHER")
    kos = key_object_document([images[0], images[2]], title=codes.DCM.ForConference,
                              seen_with={images[0].SOPInstanceUID: ps})
    src = tmp_path / "src"
    src.mkdir()
    for n, ds in enumerate([*images, ps, unrelated, kos]):
        save(ds, src / f"{n}.dcm")
    root = tmp_path / "archive"
    assert cli_main(["--archive", str(root), "import", str(src)]) == 0
    return root, {
        "study": images[0].StudyInstanceUID, "first": images[0].SOPInstanceUID,
        "second": images[1].SOPInstanceUID, "third": images[2].SOPInstanceUID,
        "ps": ps.SOPInstanceUID, "unrelated": unrelated.SOPInstanceUID,
        "kos": kos.SOPInstanceUID,
    }


def test_key_images_only_with_their_document_and_state(
    flagged: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, uids = flagged
    with Archive(root) as archive:
        report = export_studies(archive, [uids["study"]], tmp_path / "cd", key_images_only=True)
    assert report.ok and report.dicomdir is not None
    exported = {f.sop_instance_uid for f in report.exported}
    assert exported == {uids["first"], uids["third"], uids["ps"], uids["kos"]}
    check_fileset(tmp_path / "cd")
    records = {str(i.SOPInstanceUID): str(i.DirectoryRecordType)
               for i in FileSet(tmp_path / "cd" / "DICOMDIR")}
    assert records == {uids["first"]: "IMAGE", uids["third"]: "IMAGE",
                       uids["ps"]: "PRESENTATION", uids["kos"]: "KEY OBJECT DOC"}


def test_cli_key_images(flagged: tuple[Path, dict[str, str]], tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    root, uids = flagged
    capsys.readouterr()
    code = cli_main(["--archive", str(root), "export", uids["study"], "--key-images",
                     "--to", str(tmp_path / "cd"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {f["SOPInstanceUID"] for f in out["exported"]} == {
        uids["first"], uids["third"], uids["ps"], uids["kos"]}
    # the whole study without the option: every instance, both states
    code = cli_main(["--archive", str(root), "export", uids["study"],
                     "--to", str(tmp_path / "all"), "--json"])
    assert code == 0 and len(json.loads(capsys.readouterr().out)["exported"]) == 7


def test_study_without_key_images_is_refused_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = ct_series(2)
    src = tmp_path / "src"
    src.mkdir()
    for n, ds in enumerate(images):
        save(ds, src / f"{n}.dcm")
    root = str(tmp_path / "archive")
    assert cli_main(["--archive", root, "import", str(src)]) == 0
    capsys.readouterr()
    with Archive(Path(root)) as archive, pytest.raises(ExportError, match="no key image"):
        export_studies(archive, [images[0].StudyInstanceUID], tmp_path / "cd",
                       key_images_only=True)
    code = cli_main(["--archive", root, "export", images[0].StudyInstanceUID, "--key-images",
                     "--to", str(tmp_path / "cd2")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no key image" in err
    assert not (tmp_path / "cd2").exists() or not any((tmp_path / "cd2").iterdir())
