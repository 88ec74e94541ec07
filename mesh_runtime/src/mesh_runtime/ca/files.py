"""Writing secrets so that no reader ever sees half a file: a temp file in the same directory, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

#: Private keys and token stores: readable and writable by their owner only.
PRIVATE_FILE_MODE = 0o600
#: Certificates and trust bundles are public.
PUBLIC_FILE_MODE = 0o644
PRIVATE_DIRECTORY_MODE = 0o700


def write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Replace `path` with `data`: the old content or the new one is there, never a mix or a part.

    The temp file is created owner-only and gets `mode` before a byte is written, so a key is never
    readable by others, not even for a moment.
    """
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _sync_directory(path.parent)


def ensure_private_directory(directory: Path) -> None:
    """Create `directory` (and parents) owner-only if it is missing; an existing one is left as it is."""
    directory.mkdir(mode=PRIVATE_DIRECTORY_MODE, parents=True, exist_ok=True)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (where the platform allows opening a directory)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
