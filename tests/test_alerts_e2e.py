"""The alert rules end to end: a real Prometheus loaded with the project's rules scrapes the real
sidecar (`vllm-obs run --file`) while real-format vLLM lines are appended to the file it follows.

The lines are the real logs' lines (samples/real-logs), with their `MM-DD HH:MM:SS` stamps set to
the time they are appended (a live server prints the current time); the saturated stats lines
are 060's stats line with its Running / Waiting / KV usage numbers changed. Phases: a quiet V1
0.27.1 start (060), KV saturation with a growing queue, the log going silent while serving, a
clean SIGINT stop (060's own), a restart that fails with KV too small (010; and a second sidecar,
started on a log that already holds that failure, added to Prometheus' targets: its counters
are born at 1), a 0.26.0 start (073) that serves and then dies of CUDA OOM (031). After each
phase the test asserts through /api/v1/alerts which alerts fire, and that nothing else is
pending or firing.

The rules are the shipped deploy/prometheus/alerts.yml, with one change in a test copy: every
`for:` is rewritten to 2s and the 30-minute silence of VllmObsNoLinesFromServingEngine to 6 s,
so the test takes a minute, not hours. The Grafana-managed rules
(deploy/grafana/provisioning/alerting/vllm-obs.yml) are evaluated on the same Prometheus at the
same instants: each query A through /api/v1/query, its threshold C applied here; they must
select exactly the series the Prometheus rules select.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from realparts import Prometheus, Sidecar, wait_for

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "real-logs"
ALERTS_FILE = ROOT / "deploy" / "prometheus" / "alerts.yml"
GRAFANA_FILE = ROOT / "deploy" / "grafana" / "provisioning" / "alerting" / "vllm-obs.yml"
TEST_FOR = "2s"
NO_LINES = "VllmObsNoLinesFromServingEngine"
TEST_SILENCE_SECONDS = 6
STAMP = re.compile(r"\b\d\d-\d\d \d\d:\d\d:\d\d\b")


def real_log(prefix: str) -> list[str]:
    (path,) = SAMPLES.glob(f"{prefix}*/input.log")
    return path.read_text().splitlines()


LOG_060 = real_log("060-")  # vLLM 0.27.1, V1, H100: start, load, clean SIGINT stop
STARTUP = LOG_060[: next(i for i, line in enumerate(LOG_060) if "HTTP server started" in line) + 1]
STATS_LINES = [line for line in LOG_060 if "[loggers.py" in line and "Engine 000:" in line]
FIRST_STATS, IDLE_STATS = STATS_LINES[0], STATS_LINES[-1]  # Running 1, KV 0.1%; Running 0, KV 0.0%
PROBE = next(line for line in LOG_060 if '"GET /v1/models HTTP/1.1" 200' in line)
REQUEST = next(line for line in LOG_060 if '"POST /v1/completions HTTP/1.1" 200' in line)
STOP = LOG_060[next(i for i, line in enumerate(LOG_060) if "[shutdown]" in line):]
LOG_073 = real_log("073-")  # vLLM 0.26.0, V1, H200: start, load, clean SIGINT stop
STARTUP_073 = LOG_073[: next(i for i, line in enumerate(LOG_073) if "Application startup complete" in line) + 1]
STATS_073 = next(line for line in LOG_073 if "[loggers.py" in line and "Engine 000:" in line)
KV_TOO_SMALL = real_log("010-")  # 0.6.4: max seq len 29000 > 23648 tokens of KV cache
CUDA_OOM = real_log("031-")  # 0.8 V1: torch.OutOfMemoryError in EngineCore, then the fatal signal
KV_ALERTS = {"VllmKvCacheSaturated", "VllmKvCacheSaturatedCritical", "VllmKvCacheFullRequestsWaiting", "VllmQueueGrowingWhileKvSaturated"}


def saturated(i: int) -> str:
    """060's stats line under a load that fills the KV cache: 256 running, the queue growing."""
    line = FIRST_STATS
    for pattern, value in (
        (r"Running: \d+ reqs", "Running: 256 reqs"),
        (r"Waiting: \d+ reqs", f"Waiting: {4 * (i + 1)} reqs"),
        (r"GPU KV cache usage: [\d.]+%", f"GPU KV cache usage: {min(99.9, 95.5 + i):.1f}%"),
    ):
        line, n = re.subn(pattern, value, line)
        assert n == 1, pattern
    return line


class VllmLog:
    """A log file a vLLM server appends to, stamping lines with the current time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.last_append = 0.0

    def append(self, lines: list[str]) -> None:
        now = time.strftime("%m-%d %H:%M:%S", time.gmtime())
        with open(self.path, "a") as f:
            f.write("".join(STAMP.sub(now, line, count=1) + "\n" for line in lines))
        self.last_append = time.monotonic()

    def every_second(self, lines: Callable[[], list[str]]) -> None:
        """Append lines at most once a second (a server's steady output while the test polls)."""
        if time.monotonic() - self.last_append >= 1.0:
            self.append(lines())


def rules_for_test(tmp_path: Path) -> tuple[Path, dict[str, tuple[str, str, float]]]:
    """The shipped rules with short durations (a test copy), and the Grafana rules as
    (query, op, threshold) with the same rewrite."""
    doc = yaml.safe_load(ALERTS_FILE.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = TEST_FOR
            if rule["alert"] == NO_LINES:
                rule["expr"], n = re.subn(r"> 1800$", f"> {TEST_SILENCE_SECONDS}", rule["expr"])
                assert n == 1, rule["expr"]
    path = tmp_path / "alerts-test-copy.yml"
    path.write_text(yaml.safe_dump(doc))
    grafana = {}
    for group in yaml.safe_load(GRAFANA_FILE.read_text())["groups"]:
        for rule in group["rules"]:
            evaluator = rule["data"][1]["model"]["conditions"][0]["evaluator"]
            threshold = float(evaluator["params"][0])
            if rule["title"] == NO_LINES:
                assert threshold == 1800
                threshold = TEST_SILENCE_SECONDS
            grafana[rule["title"]] = (rule["data"][0]["model"]["expr"], evaluator["type"], threshold)
    return path, grafana


def labelset(result: dict) -> frozenset[tuple[str, str]]:
    return frozenset((k, v) for k, v in result["metric"].items() if k != "__name__")


def _rfc3339(text: str) -> float:
    text = re.sub(r"(\.\d{6})\d*", r"\1", text).replace("Z", "+00:00")
    return datetime.fromisoformat(text).timestamp()


@pytest.fixture
def stack(tmp_path: Path):
    reason = Prometheus.available()
    if reason:
        pytest.skip(f"no real Prometheus here: {reason}")
    rules, grafana = rules_for_test(tmp_path)
    main = tmp_path / "vllm.log"
    main.touch()  # the runtime creates the log file with the container, before vLLM prints
    sidecar = Sidecar("--file", str(main))
    prometheus = Prometheus([f"127.0.0.1:{sidecar.port}"], rule_files=[str(rules)])
    late: list[Sidecar] = []  # a second sidecar, started in phase (d)
    try:
        prometheus.start()
        yield prometheus, grafana, main, sidecar, late, yaml.safe_load(rules.read_text())
    finally:
        prometheus.close()
        for process in [sidecar, *late]:
            process.close()


def test_alerts_end_to_end(stack) -> None:  # noqa: PLR0915 - one story, phase by phase
    prometheus, grafana, main_path, sidecar, late_sidecars, rules = stack
    main_path.parent.joinpath("late").mkdir()
    late_path = main_path.parent / "late" / "vllm.log"
    main, late = str(main_path), str(late_path)
    log = VllmLog(main_path)
    exprs = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"]}
    started = time.time()

    def active() -> dict[str, set[frozenset]]:
        out: dict[str, set[frozenset]] = {}
        for alert in prometheus.alerts():
            labels = dict(alert["labels"])
            out.setdefault(labels.pop("alertname"), set()).add(frozenset(labels.items()))
        return out

    def firing_names() -> set[str]:
        return {a["labels"]["alertname"] for a in prometheus.alerts() if a["state"] == "firing"}

    def evaluated_after(t: float) -> bool:
        return all(_rfc3339(g["lastEvaluation"]) > t for g in prometheus.rule_groups())

    def selected(query: str, op: str, threshold: float, at: float) -> set[frozenset]:
        values = ((labelset(r), float(r["value"][1])) for r in prometheus.query(query, at))
        return {labels for labels, v in values if (v > threshold if op == "gt" else v < threshold)}

    def check_grafana_agrees(expected: set[str]) -> None:
        """Grafana's query + threshold select what Prometheus' rule selects, at one instant."""
        at = time.time()
        by_grafana = {t: s for t, (q, op, th) in grafana.items() if (s := selected(q, op, th, at))}
        by_prometheus = {t: {labelset(r) for r in prometheus.query(exprs[t], at)} for t in exprs}
        assert by_grafana == {t: s for t, s in by_prometheus.items() if s}
        assert set(by_grafana) == expected

    def rule_errors() -> list[str]:
        return [f"{r['name']}: {r.get('lastError')}" for g in prometheus.rule_groups() for r in g["rules"] if r.get("health") != "ok"]

    def settle(
        expected: set[str],
        what: str,
        ready: str | None = None,
        pump: Callable[[], list[str]] | None = None,
        timeout: float = 30,
        until: Callable[[dict[str, set[frozenset]]], bool] | None = None,
    ) -> None:
        """Wait until exactly `expected` fires and nothing else is pending or firing (and, with
        `until`, the active alerts' label sets satisfy it: one alert name can be firing for one
        source while the rules have not yet been evaluated on another's newest scrape). With
        `ready`, first wait until Prometheus has that data and has evaluated the rules on it
        for longer than the `for:` durations (so "nothing fires" is not "not yet")."""
        def pumped(check: Callable[[], object]) -> Callable[[], object]:
            def poll() -> object:
                if pump:
                    log.every_second(pump)
                return check()

            return poll

        if ready is not None:
            query = ready
            wait_for(pumped(lambda: prometheus.query(query)), timeout, f"{what}: {ready}")
            t_ready = time.time() + 2.5  # the test copy's for: 2s, plus an evaluation
            wait_for(pumped(lambda: evaluated_after(t_ready)), timeout, f"{what}: evaluations")

        def exactly_expected() -> bool:
            now = active()
            return set(now) == expected and firing_names() == expected and (until is None or until(now))

        try:
            wait_for(pumped(exactly_expected), timeout, what, interval=0.25)
        except TimeoutError as exc:
            raise AssertionError(f"{what}: expected {sorted(expected)}, active {active()}, rule errors {rule_errors()}") from exc
        check_grafana_agrees(expected)

    def seen_since(t: float) -> set[str]:
        """Every alert that was pending or firing at any evaluation since t (transient ones too)."""
        window = max(1, int(time.time() - t) + 1)
        return {r["metric"]["alertname"] for r in prometheus.query(f"group by (alertname) (max_over_time(ALERTS[{window}s]))")}

    # (a) A quiet start: 0.27.1's startup, one light request, a client polling /v1/models.
    t_a = time.time()
    log.append(STARTUP + [REQUEST, FIRST_STATS, PROBE])
    settle(set(), "a quiet start", ready=f'vllm_obs_engine_state{{source="{main}",state="serving"}} == 1', pump=lambda: [PROBE])
    assert prometheus.value(f'vllm_obs_engine_starts_total{{source="{main}"}}') == 1
    assert prometheus.value(f'sum(vllm_obs_errors_total{{source="{main}"}})') == 0
    assert seen_since(t_a) == set(), "something fired during the quiet start"

    # (b) KV saturation with a growing queue: 256 running, KV 95.5% -> 99.9%, Waiting 4, 8, 12 ...
    step = iter(range(1000))
    settle(KV_ALERTS, "KV saturation with a growing queue", pump=lambda: [REQUEST, saturated(next(step))])
    (critical,) = (a for a in prometheus.alerts() if a["labels"]["alertname"] == "VllmKvCacheSaturatedCritical")
    assert critical["labels"]["source"] == main and critical["labels"]["model"] == "qwen3-8b-random"
    assert 0.97 < float(critical["value"]) <= 0.999
    assert prometheus.value(f'vllm_obs_preemptions_total{{source="{main}"}}') == 0  # V1 prints none

    # (b') The log goes silent while the engine is serving.
    settle(KV_ALERTS | {NO_LINES}, "a silent serving engine", timeout=30)

    # (c) The load ends, then a clean SIGINT stop: the KV alerts resolve, nothing new fires, and
    # the silence after the stop is not a lost log.
    t_c = time.time()
    before_c = KV_ALERTS | {NO_LINES}
    log.append([IDLE_STATS] + STOP)
    settle(
        set(),
        "a clean stop",
        ready=f'vllm_obs_engine_state{{source="{main}",state="stopped"}} == 1'
        f' and on (source) time() - vllm_obs_last_log_line_timestamp_seconds > {TEST_SILENCE_SECONDS + 1}',
    )
    assert seen_since(t_c) <= before_c, "a clean stop fired something new"
    assert prometheus.value(f'sum(vllm_obs_errors_total{{source="{main}"}})') == 0

    # (d) A restart that fails: KV cache too small for max_model_len. And a second server whose
    # sidecar starts after that failure is already in its log: its counters are born at 1.
    log.append(KV_TOO_SMALL)
    late_path.write_text("".join(line + "\n" for line in KV_TOO_SMALL))
    late_sidecars.append(Sidecar("--file", late))
    prometheus.set_targets([f"127.0.0.1:{sidecar.port}", f"127.0.0.1:{late_sidecars[0].port}"])
    failed = {"VllmEngineStartupFailed", "VllmEngineFailed", "VllmEngineRestarted"}

    def both_sources_failed() -> bool:
        return {dict(ls)["source"] for ls in active().get("VllmEngineFailed", ())} == {main, late}

    def startup_failures(alerts: dict[str, set[frozenset]]) -> set[tuple[str, str]]:
        return {(dict(ls)["source"], dict(ls)["kind"]) for ls in alerts.get("VllmEngineStartupFailed", ())}

    both_kv_too_small = {(main, "insufficient_kv_cache"), (late, "insufficient_kv_cache")}
    wait_for(both_sources_failed, 30, "both engines failed")
    settle(failed, "a restart that fails with KV too small", until=lambda alerts: startup_failures(alerts) == both_kv_too_small)
    alerts = active()
    assert startup_failures(alerts) == both_kv_too_small
    assert {dict(ls)["source"] for ls in alerts["VllmEngineFailed"]} == {main, late}
    assert {dict(ls)["source"] for ls in alerts["VllmEngineRestarted"]} == {main}  # the late log's first start is no restart
    born = f'vllm_obs_errors_total{{source="{late}",kind="insufficient_kv_cache"}}'
    assert prometheus.value(f"min_over_time({born}[5m])") == 1, "the late log's counter should be born at 1"
    (late_failure,) = (a for a in prometheus.alerts() if a["labels"]["alertname"] == "VllmEngineStartupFailed" and a["labels"]["source"] == late)
    assert float(late_failure["value"]) == 1  # fired by the born-at-1 branch: the count itself, no increase
    assert late_failure["annotations"]["description"] == "The engine failed to start: insufficient_kv_cache (1 in 10 minutes)."
    assert prometheus.value(f'vllm_obs_engine_starts_total{{source="{main}"}}') == 2

    # (e) The server comes back as 0.26.0 (073's start), serves, then dies of CUDA OOM.
    log.append(STARTUP_073 + [REQUEST, STATS_073])
    def serving_again() -> bool:
        log.every_second(lambda: [PROBE])
        serving = prometheus.value(f'vllm_obs_engine_state{{source="{main}",state="serving"}}') == 1
        return serving and not any(dict(ls)["source"] == main for ls in active().get("VllmEngineFailed", ()))

    wait_for(serving_again, 30, "the new start to serve (its engine no longer failed)")
    log.append(CUDA_OOM)
    settle(
        {"VllmEngineStartupFailed", "VllmEngineFailed", "VllmEngineRestarted", "VllmCudaOutOfMemory", "VllmEngineFatal"},
        "a CUDA OOM while serving",
        until=lambda alerts: {dict(ls)["source"] for ls in alerts.get("VllmEngineFailed", ())} == {main, late},
    )
    alerts = active()
    (oom,) = alerts["VllmCudaOutOfMemory"]
    assert dict(oom)["source"] == main and dict(oom)["model"] == "qwen3-8b-random" and dict(oom)["severity"] == "critical"
    assert {dict(ls)["kind"] for ls in alerts["VllmEngineFatal"]} == {"engine_fatal"}
    assert {dict(ls)["source"] for ls in alerts["VllmEngineFailed"]} == {main, late}
    assert time.time() - started < 90
