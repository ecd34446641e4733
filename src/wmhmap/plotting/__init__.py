"""Figures shared by several stages (overlays of masks on MRI slices)."""

from wmhmap.plotting.overlays import overlay_figure

__all__ = ["overlay_figure"]
