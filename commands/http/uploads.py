"""CSV bodies for the import endpoints: the same importers as the CLI read them from a temporary file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from domain.errors import ValidationError

#: Largest CSV body an import endpoint takes (64 MiB).
MAX_CSV = 64 * 1024 * 1024


@contextmanager
def as_file(text: str) -> Iterator[str]:
    """A temporary file holding ``text`` (removed afterwards)."""
    if len(text) > MAX_CSV:
        raise ValidationError("body", f"is larger than {MAX_CSV // (1024 * 1024)} MiB")
    fd, path = tempfile.mkstemp(suffix=".csv", prefix="billing-import-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogatepass", newline="") as f:
            f.write(text)
        yield path
    finally:
        os.remove(path)
