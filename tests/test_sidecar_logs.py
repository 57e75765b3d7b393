"""The sidecar's own log (--log-level, --log-format): a real `vllm-obs run` process's stderr."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from realparts import Sidecar, wait_for
from vllm_obs.live import logs


def test_json_log_lines_from_the_real_sidecar(tmp_path: Path) -> None:
    log = tmp_path / "vllm.log"
    log.write_text("")
    sidecar = Sidecar("--file", str(log), "--log-format", "json", "--log-level", "debug")
    try:
        def serving() -> dict | None:
            for line in sidecar.log_path.read_text().splitlines():
                entry = json.loads(line)  # every line is one JSON object
                if entry["message"].startswith("serving metrics on"):
                    return entry
            return None

        entry = wait_for(serving, 10, "the 'serving metrics' log line")
        assert entry["message"] == f"serving metrics on http://127.0.0.1:{sidecar.port}/metrics"
        assert entry["level"] == "info" and entry["logger"] == "vllm_obs.cli.run_command"
        assert entry["time"].endswith("Z") and entry["time"][:2] == "20"
    finally:
        assert sidecar.close() == 0


@pytest.fixture
def restore_logging():
    root = logging.getLogger("vllm_obs")
    saved = (list(root.handlers), root.level, root.propagate)
    yield
    root.handlers[:], root.level, root.propagate = saved[0], saved[1], saved[2]


def test_text_format_and_level(capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    logs.configure("warning", "text")
    logger = logging.getLogger("vllm_obs.live.sources.files")
    logger.info("source attached: /logs/a.log")
    logger.warning("cannot read /logs/b.log: permission denied (uid 10001, file owned by 0:0 mode 0640)")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].endswith(" WARNING vllm_obs.live.sources.files: cannot read /logs/b.log: permission denied (uid 10001, file owned by 0:0 mode 0640)")
    logs.configure("info", "json")  # configuring again replaces the handler: one line per record
    try:
        raise ValueError("bad record")
    except ValueError:
        logger.exception("pipeline batch failed")
    (line,) = capsys.readouterr().err.splitlines()
    entry = json.loads(line)
    assert entry["message"] == "pipeline batch failed" and entry["exception"].endswith("ValueError: bad record")
    with pytest.raises(ValueError, match="not one of"):
        logs.configure("verbose", "text")
