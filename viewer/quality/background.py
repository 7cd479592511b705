"""Validation after an import commits: the studies an import, a retrieve or the Storage SCP
stored are queued here, and one worker thread validates them (viewer.quality.store) while the
import goes on, so validating never delays a commit (issue 19: import with validation on
<= 1.15x import with it off).

One thread, not a pool of them: validate_files already keeps every core busy with dciodvfy
processes, and the index has one writer. A study queued again while it waits is validated
once; queued while it is being validated, it is validated again afterwards (its new instances
left it pending). `close()` cancels the study in flight within the files in flight (those
validated keep their findings, the study stays pending) and forgets the queue: a pending
study is validated the next time it is queued (`pending_studies`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from viewer.jobs import CancelToken
from viewer.quality.dciodvfy import ToolMissing
from viewer.quality.store import FindingCounts, OnStudy, validate_stored

if TYPE_CHECKING:
    from viewer.archive.archive import Archive

LOGGER = logging.getLogger(__name__)


class ImportValidator:
    """`ImportValidator(archive, on_study=None)`: `queue(study_uids)` returns at once; the
    worker validates them in the order queued, calling `on_study(study_uid, counts)` (on the
    worker thread) after each study's findings are stored. `problem` is the latest reason a
    study could not be validated (dciodvfy missing, the index failing), "" when none."""

    def __init__(self, archive: Archive, on_study: OnStudy | None = None) -> None:
        self.archive = archive
        self._on_study = on_study
        self._queue: list[str] = []
        self._busy = False
        self._closed = False
        self._cancel = CancelToken()
        self._changed = threading.Condition()
        self.problem = ""
        self.validated: dict[str, FindingCounts] = {}  # study UID -> counts, as validated
        self._thread = threading.Thread(target=self._run, name="import-validator",
                                        daemon=True)
        self._thread.start()

    def queue(self, study_uids: Iterable[str]) -> None:
        """Validate these studies after those queued before (each once)."""
        with self._changed:
            if self._closed:
                return
            for uid in study_uids:
                if uid and uid not in self._queue:
                    self._queue.append(uid)
            self._changed.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every study queued so far is validated; False after `timeout` seconds
        with some still waiting (or when closed before they were)."""
        with self._changed:
            done = self._changed.wait_for(
                lambda: self._closed or (not self._queue and not self._busy), timeout)
            return bool(done) and not self._queue and not self._busy

    def close(self, timeout: float | None = None) -> None:
        """Cancel the study in flight, drop the queue, and end the worker thread."""
        with self._changed:
            self._closed = True
            self._queue.clear()
            self._cancel.cancel()
            self._changed.notify_all()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._closed or bool(self._queue))
                if self._closed:
                    self._changed.notify_all()
                    return
                study_uid = self._queue.pop(0)
                self._busy = True
            try:
                validate_stored(self.archive, [study_uid], cancel=self._cancel,
                                on_study=self._validated)
            except ToolMissing as exc:
                self._failed(study_uid, str(exc))
            except Exception as exc:  # noqa: BLE001 - a thread's failure is one line, never
                # a traceback in the user's terminal; the study stays pending
                LOGGER.debug("validating a study failed", exc_info=True)
                self._failed(study_uid, f"{type(exc).__name__}: {exc}")
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()

    def _validated(self, study_uid: str, counts: FindingCounts) -> None:
        self.validated[study_uid] = counts
        if self._on_study is not None:
            try:
                self._on_study(study_uid, counts)
            except Exception as exc:  # noqa: BLE001 - the caller's callback must not end
                # the validation of the studies after it
                LOGGER.error("the on_study callback failed: %r", exc)

    def _failed(self, study_uid: str, reason: str) -> None:
        self.problem = f"findings not computed (the study stays pending): {reason}"
        LOGGER.warning("a study could not be validated, it stays pending: %s", reason)
        LOGGER.debug("the study that could not be validated: %s", study_uid)
