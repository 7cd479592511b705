"""Sync groups between viewports (a hanging protocol's, "compare with prior", "link with
offset"): window/level (the whole display state), zoom and pan (the shown rectangle), and
scrolling.

Scrolling in one Frame of Reference is the reading area's own sync by position; across Frames
of Reference (a prior) a pair in the same plane scrolls by an offset along the slice normal
(`viewer.reading.priors.paired_slice`): the difference between the two series' head-end slices
until the reader lines them up and links them (`link`: the slices shown at that moment), kept by
series pair for the session.
"""

from __future__ import annotations

from collections.abc import Callable

from viewer.dicom.geometry import position_along_normal
from viewer.dicom.stack import Stack
from viewer.gui.reading import ReadingArea
from viewer.gui.viewport import Viewport
from viewer.reading.hanging import orientation_of
from viewer.reading.priors import paired_slice
from viewer.reading.protocols import Orientation, SyncKind


class SyncGroups:
    """Keeps the viewports of `reading` in step within the groups `groups_of(kind)` names
    (0-based viewport numbers, in layout order)."""

    def __init__(self, reading: ReadingArea,
                 groups_of: Callable[[SyncKind], list[tuple[int, ...]]]) -> None:
        self.reading = reading
        self.groups_of = groups_of
        # (series a, series b) -> position of b minus position of a along the normal (mm)
        self.offsets: dict[tuple[str, str], float] = {}
        self._positions: dict[tuple[str, int], tuple[list[int], list[float]]] = {}
        self._syncing = False
        reading.sync_hooks.append(self.sync_scroll)
        reading.view_changed.connect(self.sync_view)

    def link(self, active: Viewport) -> list[int]:
        """Offsets between `active` and every other viewport with a located series, from the
        slices they show now; returns those viewports' numbers."""
        linked = []
        here = self.along(active)
        for n, other in enumerate(self.reading.viewports):
            there = self.along(other)
            if (other is active or active.stack is None or other.stack is None
                    or here is None or there is None):
                continue
            self.offsets[(active.stack.series_uid, other.stack.series_uid)] = there - here
            self.offsets.pop((other.stack.series_uid, active.stack.series_uid), None)
            linked.append(n)
        return linked

    def _partners(self, source: Viewport, kind: SyncKind) -> list[Viewport]:
        viewports = self.reading.viewports
        if source not in viewports:
            return []
        n = viewports.index(source)
        found: list[Viewport] = []
        for group in self.groups_of(kind):
            if n in group:
                found += [viewports[i] for i in group if i != n and i < len(viewports)
                          and viewports[i] not in found]
        return found

    def sync_view(self, source: Viewport, what: str) -> None:
        """Window/level or zoom and pan of `source` to the other viewports of its groups."""
        if self._syncing:
            return
        kind = SyncKind.WINDOW if what == "window" else SyncKind.ZOOM
        self._syncing = True
        try:
            for peer in self._partners(source, kind):
                if peer.stack is None:
                    continue
                if kind is SyncKind.WINDOW:
                    peer.set_display_state(source.state)
                else:
                    peer.match_zoom(source)
        finally:
            self._syncing = False

    def sync_scroll(self, source: Viewport) -> None:
        """Viewports of a scroll group in another Frame of Reference than `source` follow it
        by the pair's offset (one Frame of Reference: the reading area synced them)."""
        if source.stack is None:
            return
        here = self.along(source)
        if here is None:
            return
        for peer in self._partners(source, SyncKind.SCROLL):
            if peer.stack is None or peer.stack.series_uid == source.stack.series_uid:
                continue
            mine, theirs = _frame_of_reference(source.stack), _frame_of_reference(peer.stack)
            if mine and mine == theirs:
                continue
            if _plane(source.stack) != _plane(peer.stack):
                continue  # positions along different normals cannot be paired
            indices, positions = self._positions_of(peer.stack)
            offset = self.offset(source.stack, peer.stack)
            if offset is None:
                continue
            found = paired_slice(here, offset, positions)
            if found is not None:
                peer.set_position(indices[found], notify=False)

    def offset(self, a: Stack, b: Stack) -> float | None:
        """Position of `b` minus position of `a` along the normal for scrolling them
        together: as linked, else between their head-end slices."""
        key = (a.series_uid, b.series_uid)
        if key in self.offsets:
            return self.offsets[key]
        if key[::-1] in self.offsets:
            return -self.offsets[key[::-1]]
        first_a, first_b = self._positions_of(a)[1][:1], self._positions_of(b)[1][:1]
        if not first_a or not first_b:
            return None
        return first_b[0] - first_a[0]

    @staticmethod
    def along(viewport: Viewport) -> float | None:
        """The shown slice's position along its normal (mm); None without geometry."""
        g = viewport.geometry_now
        if g is None or g.position is None or g.orientation is None:
            return None
        try:
            return position_along_normal(g.position, g.orientation)
        except ValueError:
            return None

    def _positions_of(self, stack: Stack) -> tuple[list[int], list[float]]:
        """The stack indices of its located frames and their positions along the normal (mm),
        in stack order; cached per series and frame count (a head grows into the series)."""
        key = (stack.series_uid, len(stack.frames))
        found = self._positions.get(key)
        if found is None:
            indices, positions = [], []
            for i, g in enumerate(stack.geometry):
                if g is None or g.position is None or g.orientation is None:
                    continue
                try:
                    positions.append(position_along_normal(g.position, g.orientation))
                except ValueError:
                    continue
                indices.append(i)
            found = self._positions[key] = (indices, positions)
        return found


def _plane(stack: Stack) -> Orientation | None:
    first = next((g for g in stack.geometry if g is not None and g.orientation), None)
    return None if first is None else orientation_of(first.orientation)


def _frame_of_reference(stack: Stack) -> str:
    return next((g.frame_of_reference_uid for g in stack.geometry
                 if g is not None and g.frame_of_reference_uid), "")
