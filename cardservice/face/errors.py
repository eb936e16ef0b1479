"""The face's own failures that callers catch without loading the renderers."""

from __future__ import annotations


class PhotoError(ValueError):
    """The photo is not an image Pillow can read."""
