"""Persistence loop (placeholder: keeps nothing on disk yet; issue 3 replaces this module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import ThinkSettings
from .session import Session


class Persistence:
    """Placeholder with the interface the manager uses; stores nothing."""

    def __init__(self, store_dir: Path, settings: ThinkSettings) -> None:
        self.store_dir = store_dir
        self.settings = settings

    def restore(self, session_id: str) -> Session | None:
        return None

    def stored_ids(self) -> list[str]:
        return []

    def track(self, session: Session) -> None:
        pass

    def trash(self, session_id: str) -> None:
        pass

    def flush(self, timeout: float | None) -> None:
        pass

    def close(self, timeout: float | None) -> None:
        pass

    def status(self) -> dict[str, Any]:
        return {"pending": 0, "durable_seq": 0, "last_error": None}
