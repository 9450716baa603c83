"""npm packages the tests run (Spotlight, Sentry JS): installed once into a directory shared by every session.

``.ci/run`` installs them ahead of the tests (``python tests/<test file>.py install``); a test that finds its
directory missing installs it itself, and skips only when npm is not installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

INSTALL_TIMEOUT = 600.0


def package_dir(env_var: str, name: str) -> Path:
    """``$env_var`` if set, else ``<temp dir>/<name>``: where a package set is (to be) installed."""
    configured = os.environ.get(env_var)
    return Path(configured) if configured else Path(tempfile.gettempdir()) / name


def install(directory: Path, package_json: Mapping[str, Any], ready: Callable[[Path], bool]) -> None:
    """``npm install`` ``package_json`` into ``directory`` unless ``ready(directory)`` already holds.

    The install runs next to the target and is renamed into place, so a concurrent run never sees a
    half-installed tree.

    Raises:
        FileNotFoundError: npm is not installed.
        subprocess.CalledProcessError: npm failed.
        RuntimeError: npm finished but ``ready`` does not hold.
    """
    if ready(directory):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm")
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=directory.name + ".", dir=directory.parent))
    try:
        (staging / "package.json").write_text(json.dumps(package_json, indent=2) + "\n")
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
            cwd=staging,
            check=True,
            timeout=INSTALL_TIMEOUT,
        )
        if not ready(staging):
            raise RuntimeError(f"npm install did not produce what {directory.name} needs")
        if directory.exists() and not ready(directory):
            shutil.rmtree(directory)  # a broken earlier install
        with contextlib.suppress(OSError):  # another run may have finished first
            staging.rename(directory)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    if not ready(directory):
        raise RuntimeError(f"{directory} is not installed")


def installed_version(directory: Path, package: str) -> str | None:
    """The version of ``package`` under ``directory/node_modules``, or ``None``."""
    manifest = directory / "node_modules" / package / "package.json"
    if not manifest.is_file():
        return None
    version = json.loads(manifest.read_text()).get("version")
    return version if isinstance(version, str) else None
