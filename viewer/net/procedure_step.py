"""One Modality Performed Procedure Step around a worklist item, from start to end (PS3.4
F.7.1: "IN PROGRESS", then "COMPLETED" or "DISCONTINUED", after which the step cannot change).

The worklist panel and `dicom-viewer mpps` both drive a step through this model: it holds the
step's state, refuses what the state diagram forbids before anything is sent (a second start,
an N-SET on a step that has ended), and says which series the step made: those of the item's
study that the archive did not hold when the step started (what was acquired, DICOMized or
imported for the order meanwhile; series of earlier steps of the same study stay out).

The network calls (viewer.net.mpps) block: the GUI runs them as tasks, one at a time per step.
The state changes only once the peer has accepted the message, so a refused or lost N-SET
leaves the step IN PROGRESS, to be completed or discontinued again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from viewer.archive.archive import Archive
from viewer.config import Node
from viewer.net import mpps
from viewer.net.association import Local
from viewer.net.worklist import WorklistItem

LOGGER = logging.getLogger(__name__)

SCHEDULED = ""  # before the N-CREATE: no performed step exists yet


class StepStateError(Exception):
    """What the step's state does not allow (PS3.4 F.7.1); the message says why."""


@dataclass
class ProcedureStep:
    """A performed procedure step: what its N-CREATE says (`performed`), its MPPS SOP
    Instance UID once created, its status, and the series of its study that existed before it
    started (`series_before`, Series Instance UIDs)."""

    performed: mpps.PerformedStep
    mpps_uid: str = ""
    status: str = SCHEDULED
    series_before: frozenset[str] = frozenset()

    @classmethod
    def for_item(cls, item: WorklistItem) -> ProcedureStep:
        """A step not yet started, performing the worklist item `item`."""
        return cls(mpps.step_from_worklist(item))

    @classmethod
    def in_progress(cls, mpps_uid: str, study_instance_uid: str = "") -> ProcedureStep:
        """A step created earlier (by another run of the command line, say), known only by its
        MPPS SOP Instance UID: it can be ended once."""
        return cls(mpps.PerformedStep("", "", study_instance_uid=study_instance_uid),
                   mpps_uid, mpps.IN_PROGRESS)

    @property
    def study_instance_uid(self) -> str:
        return self.performed.study_instance_uid

    @property
    def ended(self) -> bool:
        return self.status in (mpps.COMPLETED, mpps.DISCONTINUED)

    def start(self, node: Node, local: Local, archive: Archive | None = None) -> str:
        """N-CREATE the step IN PROGRESS on `node` and return its MPPS SOP Instance UID; the
        series `archive` holds of the study now are not the step's. StepStateError when the
        step was started already; PeerError when the node refuses."""
        if self.status != SCHEDULED:
            raise StepStateError(f"the step is {self.status} already "
                                 f"(MPPS {self.mpps_uid}): it is started once")
        before: frozenset[str] = frozenset()
        if archive is not None and self.study_instance_uid:
            before = frozenset(s.series_instance_uid
                               for s in archive.index.series(self.study_instance_uid))
        uid = mpps.create_step(node, local, self.performed)
        self.series_before, self.mpps_uid, self.status = before, uid, mpps.IN_PROGRESS
        LOGGER.info("MPPS %s created IN PROGRESS on %s", uid, node.name)
        return uid

    def series_made(self, archive: Archive) -> list[mpps.PerformedSeries]:
        """The series of the step's study in `archive` that were not there when it started,
        each with its images (what the N-SET lists)."""
        if not self.study_instance_uid:
            return []
        return [s for s in mpps.series_from_archive(archive, self.study_instance_uid)
                if s.series_instance_uid not in self.series_before]

    def check_can_end(self) -> None:
        """StepStateError unless the step is IN PROGRESS (PS3.4 F.7.2.2: a step that has
        ended, or that was never created, cannot be set)."""
        if self.status == SCHEDULED:
            raise StepStateError("the step has not been started: nothing to complete or "
                                 "discontinue")
        if self.ended:
            raise StepStateError(f"the step is {self.status} already (MPPS {self.mpps_uid}): "
                                 "a step that has ended cannot be changed")

    def end(self, node: Node, local: Local, status: str,
            series: Sequence[mpps.PerformedSeries]) -> None:
        """N-SET the step COMPLETED or DISCONTINUED with `series`. StepStateError when it is
        not IN PROGRESS (nothing is sent); PeerError when the node refuses (the step stays IN
        PROGRESS)."""
        self.check_can_end()
        mpps.finish_step(node, local, self.mpps_uid, status, series)
        self.status = status
        LOGGER.info("MPPS %s set %s on %s with %d series", self.mpps_uid, status, node.name,
                    len(series))
