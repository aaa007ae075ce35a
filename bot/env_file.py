"""Putting fresh keys into a settings file that only its owner can read."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

HEADER = (
    "# USS Intake Bot settings (every variable is documented in .env.example).\n"
    "# Keep this file private (mode 0600) and back up the keys: without them the data is lost.\n"
)


class KeysAlreadyThere(Exception):
    """The file already sets this key; replacing it would make the existing data unreadable."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def put_keys(path: Path, keys: dict[str, str]) -> bool:
    """Write the keys into a new file, or fill them into an existing one; True if created.

    Either way the result is mode 0600 from its first byte: the text is written to a private
    temporary file beside the target, which then replaces it. A key already set is never
    replaced (KeysAlreadyThere); an empty `NAME=` line, as in .env.example, is filled in.
    """
    target = path.resolve()
    if not target.exists():
        _write_private(target, HEADER + "".join(f"{k}={v}\n" for k, v in keys.items()))
        return True
    lines = target.read_text(encoding="utf-8").splitlines()
    filled: set[str] = set()
    result: list[str] = []
    for line in lines:
        name, sep, value = line.partition("=")
        name = name.strip().removeprefix("export ").strip()
        if sep and name in keys:
            if value.strip().strip("'\""):
                raise KeysAlreadyThere(name)
            line = f"{name}={keys[name]}"
            filled.add(name)
        result.append(line)
    result.extend(f"{k}={v}" for k, v in keys.items() if k not in filled)
    _write_private(target, "\n".join(result) + "\n", replace=True)
    return False


def _write_private(target: Path, text: str, *, replace: bool = False) -> None:
    staging = target if not replace else target.with_name(f".{target.name}.{os.getpid()}.tmp")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(staging, 0o600)  # whatever the umask
        if replace:
            os.replace(staging, target)
    except BaseException:
        if replace:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staging)
        raise
