"""Key Object Selection documents: DCMTK's dsrdump shows the title and each key image with the
presentation state it was seen with; dciodvfy finds no error; the evidence lists both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import MultiFrameGrayscaleWordSecondaryCaptureImageStorage

from tests.dicom.makers import image_dataset
from tests.reports import dcmtk
from viewer.dicom import demo
from viewer.reports.create_kos import (
    KeyImage,
    KeyObjectTitle,
    PresentationStateReference,
    create_key_object_selection,
)
from viewer.reports.create_ps import create_presentation_state
from viewer.reports.view_state import ViewedImage, ViewState

KOS_CLASS = "1.2.840.10008.5.1.4.1.1.88.59"


@pytest.fixture(scope="module")
def ct(tmp_path_factory: pytest.TempPathFactory) -> list[Dataset]:
    root = tmp_path_factory.mktemp("ct")
    paths = demo.write_ct_series(root, slices=3, rows=32, columns=32, patient_name="Zoé^Lê")
    return [dcmread(p) for p in paths]


def _saved_state(image: Dataset) -> Dataset:
    return create_presentation_state([ViewedImage.of(image)], ViewState(window=(-600, 1500)))


def test_dsrdump_shows_the_title_and_each_image_with_its_state(
    ct: list[Dataset], tmp_path: Path
) -> None:
    state = _saved_state(ct[0])
    keys = [KeyImage.of(ct[0], presentation_state=PresentationStateReference.of(state)),
            KeyImage.of(ct[2])]
    kos = create_key_object_selection(keys, KeyObjectTitle.FOR_TEACHING, "Nodule é 张", ct[0],
                                      observer="Dupont^Emile")
    path = dcmtk.save(kos, tmp_path / "kos.dcm")
    tree = dcmtk.dsrdump(path)
    assert '<CONTAINER:(,,"For Teaching")=CONTINUOUS>' in tree
    assert '<contains TEXT:(,,"Key Object Description")="Nodule é 张">' in tree
    assert '<has obs context PNAME:(,,"Person Observer Name")="Dupont^Emile">' in tree
    images = [line.strip() for line in tree.splitlines() if "IMAGE:" in line]
    assert images == [
        f'<contains IMAGE:(,,"Source")=(CT image,"{ct[0].SOPInstanceUID}"),'
        f'(GSPS,"{state.SOPInstanceUID}")>',
        f'<contains IMAGE:(,,"Source")=(CT image,"{ct[2].SOPInstanceUID}")>',
    ]
    assert dcmtk.dciodvfy(path) == ([], [])


def test_the_evidence_lists_images_and_presentation_states(
    ct: list[Dataset], tmp_path: Path
) -> None:
    state = _saved_state(ct[1])
    keys = [KeyImage.of(ct[1], presentation_state=PresentationStateReference.of(state))]
    # the header given for patient and study (ct[0]) is not a key image: no evidence
    kos = dcmread(dcmtk.save(
        create_key_object_selection(keys, KeyObjectTitle.OF_INTEREST, "", ct[0]),
        tmp_path / "kos.dcm",
    ))
    assert kos.SOPClassUID == KOS_CLASS and kos.Modality == "KO"
    assert kos.SpecificCharacterSet == "ISO_IR 192"
    assert str(kos.PatientName) == "Zoé^Lê" and kos.StudyInstanceUID == ct[0].StudyInstanceUID
    (study,) = kos.CurrentRequestedProcedureEvidenceSequence
    assert study.StudyInstanceUID == ct[0].StudyInstanceUID
    listed = {series.SeriesInstanceUID: [i.ReferencedSOPInstanceUID
                                         for i in series.ReferencedSOPSequence]
              for series in study.ReferencedSeriesSequence}
    assert listed == {ct[1].SeriesInstanceUID: [ct[1].SOPInstanceUID],
                      state.SeriesInstanceUID: [state.SOPInstanceUID]}
    (item,) = [i for i in kos.ContentSequence if i.ValueType == "IMAGE"]
    reference = item.ReferencedSOPSequence[0]
    assert reference.ReferencedSOPInstanceUID == ct[1].SOPInstanceUID
    nested = reference.ReferencedSOPSequence[0]
    assert (nested.ReferencedSOPClassUID, nested.ReferencedSOPInstanceUID) == (
        state.SOPClassUID, state.SOPInstanceUID)
    assert "ReferencedFrameNumber" not in reference
    assert "ContentSequence" in kos and not any(
        i.ValueType == "TEXT" for i in kos.ContentSequence)  # no description given


def test_a_frame_of_a_multiframe_image(tmp_path: Path) -> None:
    frames = np.zeros((4, 8, 8), np.uint16)
    ds = image_dataset(frames, PatientName="Doe^Jane", PatientID="7")
    ds.SOPClassUID = MultiFrameGrayscaleWordSecondaryCaptureImageStorage
    kos = create_key_object_selection([KeyImage.of(ds, frame=3)], KeyObjectTitle.QUALITY_ISSUE,
                                      "motion", ds)
    path = dcmtk.save(kos, tmp_path / "kos.dcm")
    item = next(i for i in dcmread(path).ContentSequence if i.ValueType == "IMAGE")
    assert item.ReferencedSOPSequence[0].ReferencedFrameNumber == 3
    assert '"Quality Issue"' in dcmtk.dsrdump(path)
    assert dcmtk.dciodvfy(path)[0] == []
    with pytest.raises(ValueError, match=r"frame 5 requested, it has 4$"):
        KeyImage.of(ds, frame=5)


@pytest.mark.parametrize("title", list(KeyObjectTitle), ids=lambda t: t.name)
def test_every_title_is_its_cid_7010_code(title: KeyObjectTitle, ct: list[Dataset]) -> None:
    kos = create_key_object_selection([KeyImage.of(ct[0])], title, "", ct[0])
    concept = kos.ConceptNameCodeSequence[0]
    assert concept.CodingSchemeDesignator == "DCM"
    assert concept.CodeValue.startswith("113") and concept.CodeMeaning == title.meaning
    assert kos.ContentTemplateSequence[0].TemplateIdentifier == "2010"


def test_bad_input_is_one_line(ct: list[Dataset]) -> None:
    with pytest.raises(ValueError, match=r"^no key image selected"):
        create_key_object_selection([], KeyObjectTitle.OF_INTEREST, "", ct[0])
    other = Dataset()
    other.update(ct[1])
    other.StudyInstanceUID = "1.2.3.4"
    with pytest.raises(ValueError, match=r"^key image [0-9.]+ belongs to another study"):
        create_key_object_selection([KeyImage.of(other)], KeyObjectTitle.OF_INTEREST, "", ct[0])
    stranger = PresentationStateReference(
        "1.2.840.10008.5.1.4.1.1.11.1", "1.2.3.5", "1.2.3.6", "1.2.3.7")
    with pytest.raises(ValueError, match=r"^presentation state 1\.2\.3\.5 of key image"):
        create_key_object_selection([KeyImage.of(ct[0], presentation_state=stranger)],
                                    KeyObjectTitle.OF_INTEREST, "", ct[0])
    bare = Dataset()
    with pytest.raises(ValueError, match=r"^the header has no SOPInstanceUID$"):
        KeyImage.of(bare)
    with pytest.raises(ValueError, match=r"frame 0 \(1-based\)$"):
        KeyImage("1.2", "1.3", "1.4", "1.5", frame=0)
