"""Hanging protocols and priors in the reading window (issue 17 items 6 and 7).

`HangingSession` sits beside the reading area. Opening a study asks the core
(`viewer.reading`: the study's and its relevant priors' facts from the archive, the
best-scoring protocol) how to hang it: the stage's layout and the series of each viewport,
current and prior side by side. Without a matching protocol the window hangs as before
(one series per viewport). The "Hanging" menu names the protocol and stage, lets the reader
pick another protocol, step through the stages (N next, B back), put the newest relevant
prior's matching series beside the active one ("Compare with prior") and link scrolling with
an offset.

The stage's sync groups (and those "Compare with prior" and "Link with offset" make) act
through `viewer.gui.sync_groups`: window/level, zoom and pan, and scrolling, a prior paired by
an offset kept per series pair for the session.

A stage's empty rows at the bottom are left out, and a single row's empty cells at the right:
the generic 4-up, which matches every study, shows a 1- or 2-series study as the default
hanging did (1x1, 2x1).

With `[reading] prior_node` set, opening a study also asks that PACS for the newest relevant
prior on a worker thread (`fetch_prior_if_configured`), with progress in the status bar; when
the prior arrives and the study is still open, the study is hung again with it.

Everything here reads only the index and one small header per series (about 12 ms for a
6-series CT with 2 priors); pixels come from the decode pool as usual.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolButton

from viewer.archive.archive import Archive
from viewer.archive.stacks import study_heads, study_stacks
from viewer.config import Settings
from viewer.dicom.stack import Stack
from viewer.gui.reading import ReadingArea
from viewer.gui.sync_groups import SyncGroups
from viewer.gui.tasks import TaskRunner
from viewer.jobs import CancelToken, ProgressCallback
from viewer.reading.facts import UnknownStudy, study_facts
from viewer.reading.hanging import (
    Hanging,
    StudyFacts,
    apply_protocol,
    hang,
    series_fits,
)
from viewer.reading.priors import (
    PriorFetch,
    fetch_prior_if_configured,
    relevant_priors,
)
from viewer.reading.protocols import (
    HangingProtocol,
    SyncGroup,
    SyncKind,
    ViewportRule,
    load_protocols,
)

LOGGER = logging.getLogger(__name__)

STAGE_NEXT_KEY = "N"  # free: the viewport takes arrows, Page Up/Down, Home/End, 0-9, I, F, A
STAGE_PREVIOUS_KEY = "B"


@dataclass(frozen=True)
class OpenedStudy:
    """The study in the reading area: its facts, its relevant priors' (newest first), how it
    is hung (protocol None: the default hanging) and the stage shown."""

    study: StudyFacts
    priors: tuple[StudyFacts, ...]
    hanging: Hanging
    stage: int = 0

    @property
    def study_instance_uid(self) -> str:
        return self.study.study_instance_uid


class HangingSession(QObject):
    """Hangs studies in `reading` by protocol, steps stages, syncs groups, pairs priors."""

    changed = Signal()  # protocol or stage changed: the menu button's text follows
    status = Signal(str)  # one line for the status bar
    prior_arrived = Signal(str)  # Study Instance UID of the study hung again with its prior

    def __init__(self, reading: ReadingArea, archive: Archive, tasks: TaskRunner,
                 settings: Settings | None = None, protocol_dir: Path | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.reading = reading
        self.archive = archive
        self.tasks = tasks
        self.settings = settings
        self.protocol_dir = protocol_dir
        self.opened: OpenedStudy | None = None
        self._extra: tuple[SyncGroup, ...] = ()  # "compare with prior", "link with offset"
        self._protocols: tuple[HangingProtocol, ...] | None = None
        self._fetch_token: CancelToken | None = None
        self.sync = SyncGroups(reading, self.groups)
        self.next_action = QAction(self.tr("Next stage"), self)
        self.next_action.setShortcut(QKeySequence(STAGE_NEXT_KEY))
        self.next_action.triggered.connect(lambda: self.step_stage(1))
        self.previous_action = QAction(self.tr("Previous stage"), self)
        self.previous_action.setShortcut(QKeySequence(STAGE_PREVIOUS_KEY))
        self.previous_action.triggered.connect(lambda: self.step_stage(-1))
        self.compare_action = QAction(self.tr("Compare with prior"), self)
        self.compare_action.triggered.connect(self.compare_with_prior)
        self.link_action = QAction(self.tr("Link with offset"), self)
        self.link_action.setToolTip(self.tr(
            "Scroll the other viewports with the active one, keeping the slices shown now "
            "together"))
        self.link_action.triggered.connect(self.link_with_offset)
        self.menu = QMenu(self.tr("Hanging"))
        self.menu.aboutToShow.connect(self._fill_menu)
        self.button = QToolButton()
        self.button.setMenu(self.menu)
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.changed.connect(self._update_button)
        self._update_button()

    # -- protocols ---------------------------------------------------------------------------
    @property
    def protocols(self) -> tuple[HangingProtocol, ...]:
        """The shipped protocols overlaid by the user's folder, loaded once; a file with an
        error is named in the status bar and left out."""
        if self._protocols is None:
            self.reload_protocols()
        assert self._protocols is not None
        return self._protocols

    def reload_protocols(self) -> None:
        loaded = load_protocols(self.protocol_dir)
        self._protocols = loaded.protocols
        if loaded.errors:
            self.status.emit(loaded.errors[0] if len(loaded.errors) == 1 else self.tr(
                "%1 (and %2 more hanging protocol files with errors)").replace(
                "%1", loaded.errors[0]).replace("%2", str(len(loaded.errors) - 1)))

    # -- opening -----------------------------------------------------------------------------
    def open_files(self, stacks: list[Stack]) -> bool:
        """`view PATH`: the files' stacks (whole series) hung by protocol with the archive's
        priors, when they are one study the archive holds; False: hang them by default."""
        rows = [self.archive.index.get_series(s.series_uid) for s in stacks]
        studies = {row.study_instance_uid for row in rows if row is not None}
        if None in rows or len(studies) != 1:
            return False
        return self.open_study(studies.pop(), stacks, prior_heads=False)

    def open_study(self, study_uid: str, heads: list[Stack], prior_heads: bool = True) -> bool:
        """Hang `study_uid` by the best protocol, its viewports on `heads` (the study's
        one-frame stacks) and the priors' heads (whole series: `prior_heads` False); False
        when no protocol matched (the caller hangs by default). Starts the PACS prior fetch
        when one is configured."""
        self._cancel_fetch()
        self._extra = ()
        self.opened = None
        try:
            study = study_facts(self.archive, study_uid)
        except UnknownStudy:
            self.changed.emit()
            return False
        priors = tuple(study_facts(self.archive, row.study_instance_uid)
                       for row in relevant_priors(self.archive.index, study_uid))
        hanging = hang(study, priors, self.protocols)
        self.opened = OpenedStudy(study, priors, hanging)
        self._start_fetch(study_uid)
        if hanging.protocol is None:
            self.changed.emit()
            return False
        self._show_stage(0, heads + self._prior_stacks(hanging, heads=prior_heads))
        return True

    def complete(self, stacks: list[Stack]) -> list[Stack]:
        """The whole series to replace the heads: the current study's `stacks` and those of
        the priors shown."""
        if self.opened is None:
            return stacks
        return stacks + self._prior_stacks(self.opened.hanging, heads=False)

    def _prior_stacks(self, hanging: Hanging, heads: bool) -> list[Stack]:
        """Stacks of the priors the hanging shows (heads, or whole series), newest first."""
        shown = {v.study_instance_uid for s in hanging.stages for v in s.viewports
                 if v.study > 0 and v.series_instance_uid is not None}
        read = study_heads if heads else study_stacks
        stacks: list[Stack] = []
        for prior in self.opened.priors if self.opened is not None else ():
            if prior.study_instance_uid in shown:
                stacks += read(self.archive, prior.study_instance_uid)
        return stacks

    # -- stages and protocols ------------------------------------------------------------------
    def _show_stage(self, number: int, stacks: list[Stack] | None = None) -> None:
        opened = self.opened
        if opened is None or not opened.hanging.stages:
            return
        number %= len(opened.hanging.stages)
        self.opened = replace(opened, stage=number)
        assignment = opened.hanging.stages[number]
        pool = stacks if stacks is not None else self.reading.stacks
        by_uid = {s.series_uid: s for s in pool}
        cells = [by_uid.get(v.series_instance_uid or "") for v in assignment.viewports]
        self._extra = ()
        self.reading.open_stacks(pool, _shown_layout(assignment.stage.columns, cells), cells)
        self.changed.emit()

    def step_stage(self, step: int) -> None:
        """The next (+1) or previous (-1) stage, round the end."""
        if self.opened is not None and len(self.opened.hanging.stages) > 1:
            self._show_stage(self.opened.stage + step)

    def choose_protocol(self, protocol: HangingProtocol | None) -> None:
        """Hang the open study by `protocol` (None: one series per viewport, in series
        order), from its first stage."""
        opened = self.opened
        if opened is None:
            return
        if protocol is None:
            hanging = Hanging(None, 0.0, (), opened.hanging.scores)
            self.opened = replace(opened, hanging=hanging, stage=0)
            current = self._current_stacks()
            self._extra = ()
            self.reading.open_stacks(current)
            self.changed.emit()
            return
        stages = apply_protocol(protocol, opened.study, opened.priors)
        hanging = Hanging(protocol, opened.hanging.score, stages, opened.hanging.scores)
        self.opened = replace(opened, hanging=hanging)
        current = self._current_stacks()
        self._show_stage(0, current + self._prior_stacks(hanging, heads=False))

    def _current_stacks(self) -> list[Stack]:
        """The open study's stacks in the strip (those of `view PATH` carry no Study Instance
        UID: everything that is not a prior's)."""
        priors = {p.study_instance_uid for p in self.opened.priors} if self.opened else set()
        return [s for s in self.reading.stacks if s.info.study_instance_uid not in priors]

    def describe(self) -> str:
        """'Protocol n/m' (stage n of m), or what hangs the study without one."""
        opened = self.opened
        if opened is None or opened.hanging.protocol is None:
            return self.tr("Hanging: default")
        return f"{opened.hanging.protocol.name} {opened.stage + 1}/{len(opened.hanging.stages)}"

    def _update_button(self) -> None:
        self.button.setText(self.describe())
        opened = self.opened
        self.button.setToolTip(
            opened.hanging.stages[opened.stage].stage.name
            if opened is not None and opened.hanging.stages else self.tr(
                "One series per viewport: no hanging protocol matched"))
        many = self.opened is not None and len(self.opened.hanging.stages) > 1
        self.next_action.setEnabled(many)
        self.previous_action.setEnabled(many)
        self.compare_action.setEnabled(self.opened is not None and bool(self.opened.priors))

    def _fill_menu(self) -> None:
        menu = self.menu
        menu.clear()
        opened = self.opened
        chosen = opened.hanging.protocol if opened is not None else None
        scores = dict(opened.hanging.scores) if opened is not None else {}
        default = menu.addAction(self.tr("One series per viewport"))
        default.setCheckable(True)
        default.setChecked(opened is not None and chosen is None)
        default.setEnabled(opened is not None)
        default.triggered.connect(lambda: self.choose_protocol(None))
        for protocol in self.protocols:
            value = scores.get(protocol.name)
            score = "" if value is None else f"  ({value:g})"
            act = menu.addAction(f"{protocol.name}{score}")
            act.setCheckable(True)
            act.setChecked(protocol == chosen)
            act.setEnabled(opened is not None)
            act.triggered.connect(lambda _=False, p=protocol: self.choose_protocol(p))
        menu.addSeparator()
        for act in (self.next_action, self.previous_action, self.compare_action,
                    self.link_action):
            menu.addAction(act)
        menu.addSeparator()
        menu.addAction(self.tr("Reload protocol files"), self.reload_protocols)

    def shortcut_actions(self) -> list[QAction]:
        """Actions whose keys work anywhere in the window (add them to it)."""
        return [self.next_action, self.previous_action]

    # -- priors --------------------------------------------------------------------------------
    def compare_with_prior(self) -> None:
        """The active viewport's series beside the newest relevant prior's matching series
        (same description, else same modality and orientation), scrolling, window and zoom
        linked."""
        opened, active = self.opened, self.reading.active
        if opened is None or not opened.priors or active is None or active.stack is None:
            self.status.emit(self.tr("No relevant prior of this study is in the archive"))
            return
        current = next((s for s in opened.study.series
                        if s.series_instance_uid == active.stack.series_uid), None)
        prior = opened.priors[0]
        rules = [] if current is None else [
            ViewportRule(1, series_description=(current.series_description,),
                         modality=(current.modality,)),
            ViewportRule(1, modality=(current.modality,), orientation=current.orientation),
        ]
        match = next((s for rule in rules for s in prior.series if series_fits(rule, s)), None)
        if match is None:
            self.status.emit(self.tr("The prior of %1 has no matching series").replace(
                "%1", prior.study_date))
            return
        stacks = study_stacks(self.archive, prior.study_instance_uid)
        chosen = next((s for s in stacks if s.series_uid == match.series_instance_uid), None)
        if chosen is None:
            return
        pool = [*self.reading.stacks, *(s for s in stacks
                                         if self.reading.stack_by_uid(s.series_uid) is None)]
        self.reading.open_stacks(pool, (2, 1), [active.stack, chosen])
        self._extra = tuple(SyncGroup(kind, (0, 1)) for kind in SyncKind)
        self.changed.emit()

    def link_with_offset(self) -> None:
        """Scroll every other viewport with the active one from now on, the slices shown now
        staying together (the offset kept per series pair for the session)."""
        active = self.reading.active
        if active is None or active.stack is None:
            return
        a = self.reading.viewports.index(active)
        linked = self.sync.link(active)
        if linked:
            self._extra = (*(g for g in self._extra if g.kind is not SyncKind.SCROLL),
                           SyncGroup(SyncKind.SCROLL, (a, *linked)))
            self.status.emit(self.tr("Scrolling linked: %1 viewport(s) follow the active one")
                             .replace("%1", str(len(linked))))

    def _start_fetch(self, study_uid: str) -> None:
        settings = self.settings
        if settings is None or not settings.prior_node:
            return
        def job(progress: ProgressCallback, cancel: CancelToken) -> PriorFetch | None:
            def forward(p: object) -> None:
                progress(int(getattr(p, "received", 0)), int(getattr(p, "expected", 0) or 0),
                         "prior")

            return fetch_prior_if_configured(settings, self.archive, study_uid, cancel,
                                             forward)

        task = self.tasks.start(job, "prior")
        self._fetch_token = task.token
        node = settings.prior_node
        self.status.emit(self.tr("Asking %1 for the newest relevant prior…").replace("%1", node))
        task.progress.connect(lambda done, total, _label: self.status.emit(
            self.tr("Prior from %1: %2 of %3 images").replace("%1", node)
            .replace("%2", str(done)).replace("%3", str(total) if total else "?")))
        task.succeeded.connect(lambda result: self._fetched(study_uid, result))
        task.failed.connect(lambda error: self.status.emit(
            self.tr("Prior from %1: %2").replace("%1", node).replace("%2", error)))

    def _cancel_fetch(self) -> None:
        if self._fetch_token is not None:
            self._fetch_token.cancel()
            self._fetch_token = None

    def _fetched(self, study_uid: str, result: PriorFetch | None) -> None:
        self._fetch_token = None
        if result is None:
            return
        self.status.emit(result.message)
        opened = self.opened
        if opened is None or opened.study_instance_uid != study_uid or result.prior is None:
            return
        known = {p.study_instance_uid for p in opened.priors}
        if result.prior.study_instance_uid in known:
            return  # hung with it already
        self.rehang()
        self.prior_arrived.emit(study_uid)

    def rehang(self) -> None:
        """Hang the open study again from the archive (a prior arrived), whole series at
        once, keeping the stage number when the protocol stays."""
        opened = self.opened
        if opened is None:
            return
        study_uid = opened.study_instance_uid
        priors = tuple(study_facts(self.archive, row.study_instance_uid)
                       for row in relevant_priors(self.archive.index, study_uid))
        hanging = hang(opened.study, priors, self.protocols)
        stage = opened.stage if hanging.protocol == opened.hanging.protocol else 0
        self.opened = OpenedStudy(opened.study, priors, hanging, stage)
        current = study_stacks(self.archive, study_uid)
        if hanging.protocol is None:
            return
        self._show_stage(stage, current + self._prior_stacks(hanging, heads=False))

    # -- sync groups ---------------------------------------------------------------------------
    def groups(self, kind: SyncKind) -> list[tuple[int, ...]]:
        """The viewports (0-based) moving together in `kind` now."""
        opened = self.opened
        stage = (opened.hanging.stages[opened.stage].stage.sync
                 if opened is not None and opened.hanging.stages and not self._extra_replaces()
                 else ())
        return [g.viewports for g in (*stage, *self._extra) if g.kind is kind]

    def _extra_replaces(self) -> bool:
        """"Compare with prior" replaced the stage's viewports: its groups no longer apply."""
        return any(g.kind is SyncKind.WINDOW for g in self._extra)

    def shutdown(self) -> None:
        self._cancel_fetch()


def _shown_layout(columns: int, cells: list[Stack | None]) -> tuple[int, int]:
    """The stage's layout without its empty rows at the bottom and, when one row is left,
    without its empty cells at the right (a 2-series study in the generic 4-up shows 2x1,
    not two black viewports more); the cells keep their places and numbers."""
    last = max((n for n, stack in enumerate(cells) if stack is not None), default=0)
    rows = last // columns + 1
    return (columns if rows > 1 else last + 1), rows
