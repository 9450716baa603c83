"""A real Prometheus for the tests: Debian's ``prometheus`` binary on 127.0.0.1, a generated config and a
temporary TSDB, and a small client for its HTTP API (``/api/v1/query``, ``/api/v1/query_range``).

No port is picked in advance (a port found free and released can be taken by another test before its
server binds it): Prometheus listens on port 0 and the port it got is read from its log (``msg="Listening
on" address=127.0.0.1:PORT``); the servers it scrapes bind port 0 too and report theirs, and reach the
config through file-based service discovery (:meth:`Prometheus.set_targets`).

``.ci/run`` installs the binary (``apt-get install prometheus``). In CI (``CI`` set) a missing binary fails
the tests; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Scrape every second: the tests wait for the points they caused, never longer than needed.
SCRAPE_INTERVAL = "1s"
STARTUP_TIMEOUT = 30.0
BINARY_ENV = "MCP_OTEL_PROMETHEUS"


#: The log line that tells where Prometheus listens (exporter-toolkit's, at level info).
_LISTENING = re.compile(r'msg="Listening on" address=127\.0\.0\.1:(\d+)')
TARGETS_FILE = "targets.json"


def binary() -> str | None:
    """The ``prometheus`` executable: ``$MCP_OTEL_PROMETHEUS``, else the one on ``PATH``."""
    return os.environ.get(BINARY_ENV) or shutil.which("prometheus")


def config_text(targets_file: Path) -> str:
    """A config scraping the targets listed in ``targets_file`` (file-based service discovery, re-read when
    it changes) every :data:`SCRAPE_INTERVAL` (JSON is valid YAML)."""
    return json.dumps(
        {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
            "scrape_configs": [
                {
                    "job_name": "mcp-servers",
                    "scrape_timeout": SCRAPE_INTERVAL,
                    "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": SCRAPE_INTERVAL}],
                }
            ],
        },
        indent=2,
    )


class Prometheus:
    """A running Prometheus: its URL and API queries."""

    def __init__(self, url: str, log: Path, targets_file: Path) -> None:
        self.url = url
        self.log = log
        self.targets_file = targets_file

    def set_targets(self, targets: Sequence[str], timeout: float = STARTUP_TIMEOUT) -> None:
        """Scrape ``targets`` (``host:port``) from now on; return once Prometheus has picked them all up."""
        staged = self.targets_file.with_suffix(".tmp")
        staged.write_text(json.dumps([{"targets": list(targets)}]))
        staged.replace(self.targets_file)  # atomic: discovery never reads a half-written file
        deadline = time.monotonic() + timeout
        while True:
            active = {t["scrapeUrl"].split("/")[2] for t in self._api("targets", {})["activeTargets"]}
            if active >= set(targets):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"prometheus did not pick up {targets} within {timeout:g} s: {active}")
            time.sleep(0.1)

    def _api(self, path: str, params: dict[str, str]) -> Any:
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (127.0.0.1 only)
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant vector query; each result is ``{"metric": labels, "value": [ts, "number"]}``."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._api("query", params)
        assert data["resultType"] == "vector", data
        return data["result"]  # type: ignore[no-any-return]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """A range query; each result is ``{"metric": labels, "values": [[ts, "number"], ...]}``."""
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        data = self._api("query_range", params)
        assert data["resultType"] == "matrix", data
        return data["result"]  # type: ignore[no-any-return]

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])


def _listening_port(log: Path) -> int | None:
    found = _LISTENING.search(log.read_text(errors="replace"))
    return int(found.group(1)) if found else None


@contextmanager
def running(executable: str, workdir: Path) -> Iterator[Prometheus]:
    """Start Prometheus on 127.0.0.1 (a port of its own choosing) with its TSDB in ``workdir`` and no
    targets yet (:meth:`Prometheus.set_targets`); stop it on exit."""
    targets_file = workdir / TARGETS_FILE
    targets_file.write_text("[]")
    config = workdir / "prometheus.yml"
    config.write_text(config_text(targets_file))
    log = workdir / "prometheus.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                executable,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                "--web.listen-address=127.0.0.1:0",
                "--log.level=info",  # the "Listening on" line, with the port
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
    server = Prometheus("", log, targets_file)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {proc.returncode}:\n{server.log_tail()}")
            if not server.url:
                port = _listening_port(log)
                server.url = f"http://127.0.0.1:{port}" if port else ""
            if server.url:
                try:
                    with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as response:  # noqa: S310
                        if response.status == 200:
                            break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"prometheus not ready within {STARTUP_TIMEOUT:g} s:\n{server.log_tail()}")
            time.sleep(0.1)
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
