"""wavegate: the CP2 Wave 1 release gate — success criteria as data, judged as pytest tests."""

from __future__ import annotations

__version__ = "0.1.0"
