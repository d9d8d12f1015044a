"""watcher: claim-aware change tracking for clinic web pages."""

from __future__ import annotations

__version__ = "0.1.0"
