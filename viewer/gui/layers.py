"""What other modules draw in a viewport besides its image and measurements: layers.

A layer (an SR's regions, a Segmentation, an RT Structure Set) is asked by each viewport, on
every redraw, for the graphics items of the frame it shows (children of the viewport's image
item, in image pixel coordinates, so rotation, flip and zoom apply by construction) and for
the notes it wants in the viewport's corner (a refusal: another Frame of Reference). A layer
answers from what it has: work it needs (reading headers, placing masks) runs off the GUI
thread, and the layer then calls `viewport.redraw_layers()`. An MPR view asks its plane
layers (`PlaneLayer`) the same way for the plane it shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from PySide6.QtWidgets import QGraphicsItem

    from viewer.gui.mpr_view import MprView
    from viewer.gui.viewport import Viewport

# Series of these modalities are objects about images, not images to hang in a viewport:
# opening one shows it over (or beside) the images it is about.
OBJECT_MODALITIES = frozenset({"SR", "KO", "SEG", "RTSTRUCT", "PR"})


class ViewportLayer(Protocol):
    def items(self, viewport: Viewport) -> list[QGraphicsItem]:
        """New items for the viewport's current frame (the viewport removes them later)."""
        ...

    def notes(self, viewport: Viewport) -> list[str]:
        """Lines for the viewport's corner."""
        ...


class PlaneLayer(Protocol):
    def plane_items(self, view: MprView) -> list[QGraphicsItem]:
        """New items for the MPR view's plane (children of `view.frame`: full-resolution
        plane pixels, 0,0 the top left pixel's corner; or of `view.image`, the pixels of the
        plane the picture shown was cut on, coarser while dragging)."""
        ...
