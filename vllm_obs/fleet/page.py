"""fleet.html: one self-contained page (inline CSS, no scripts, no network) over a fleet run.

Built from small per-source and per-model aggregates kept while results stream to Parquet:
sources ranked by KV-saturation minutes, then restarts, then failures; observed capacity vs
theory per model; every source that could not be read, with its reason.
"""

from __future__ import annotations

import html
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top;max-width:40em;overflow-wrap:anywhere}
th{background:#f0f0f0} td.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:inline-block;height:10px;background:#c0392b;vertical-align:middle}
.warn{color:#a04000} .small{color:#666;font-size:12px}
"""


@dataclass
class SourceFacts:
    key: str
    labels: dict[str, str | None]
    status: str
    problems: list[str]
    starts: int = 0
    kv_saturated_minutes: float = 0.0
    peak_gpu_kv_usage_pct: float | None = None
    failures: Counter = field(default_factory=Counter)
    models: list[str] = field(default_factory=list)
    report_link: str | None = None


@dataclass
class ModelFacts:
    starts: int = 0
    sources: set = field(default_factory=set)
    ratios: dict[str, list[float]] = field(default_factory=dict)
    kv_cache_tokens: list[int] = field(default_factory=list)
    max_concurrency: list[float] = field(default_factory=list)
    peak_running: list[int] = field(default_factory=list)
    saturated_minutes: float = 0.0


def display_name(s: SourceFacts) -> str:
    """namespace / pod / container, or `docker <short id>`, or the source path."""
    if s.labels.get("pod"):
        return " / ".join(v for v in (s.labels.get("namespace"), s.labels.get("pod"), s.labels.get("container")) if v)
    container_id = s.labels.get("container_id")
    if container_id:
        return f"docker {container_id[:12]}"
    return s.key


class FleetPage:
    def __init__(self, title: str) -> None:
        self.title = title
        self.sources: list[SourceFacts] = []
        self.models: dict[str, ModelFacts] = {}

    def add(self, result: dict[str, Any], report_link: str | None = None) -> None:
        row = result["source"]
        facts = SourceFacts(row["source"], {k: row.get(k) for k in ("namespace", "pod", "container", "container_id")},
                            row["status"], row["problems"], starts=len(result["starts"]), report_link=report_link)
        for start in result["starts"]:
            facts.kv_saturated_minutes += start["kv_saturated_minutes"] or 0.0
            peak = start.get("peak_gpu_kv_usage_pct")
            if peak is not None:
                facts.peak_gpu_kv_usage_pct = max(peak, facts.peak_gpu_kv_usage_pct or 0.0)
            if start.get("last_failure_kind"):
                facts.failures[start["last_failure_kind"]] += 1
            model_name = start.get("theory_model") or start.get("model")
            if model_name:
                if model_name not in facts.models:
                    facts.models.append(model_name)
                self._add_model(model_name, row["source"], start)
        self.sources.append(facts)

    def _add_model(self, name: str, source: str, start: dict[str, Any]) -> None:
        m = self.models.setdefault(name, ModelFacts())
        m.starts += 1
        m.sources.add(source)
        m.saturated_minutes += start["kv_saturated_minutes"] or 0.0
        for key in ("kv_cache_memory_gib_ratio", "kv_cache_tokens_ratio", "max_concurrency_ratio", "model_weights_gib_ratio"):
            if start.get(key) is not None:
                m.ratios.setdefault(key, []).append(start[key])
        for attr, key in (("kv_cache_tokens", "kv_cache_tokens"), ("max_concurrency", "max_concurrency"), ("peak_running", "peak_running")):
            if start.get(key) is not None:
                getattr(m, attr).append(start[key])

    def render(self) -> str:
        e = html.escape
        read = [s for s in self.sources if s.status != "failed"]
        restarts = sum(max(s.starts - 1, 0) for s in read)
        out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(self.title)}</title><style>{_CSS}</style></head><body>",
               f"<h1>{e(self.title)}</h1>",
               f"<p>{len(self.sources)} sources, {len(read)} read, {sum(s.starts for s in read)} engine starts, "
               f"{restarts} restarts, {sum(s.kv_saturated_minutes for s in read):.1f} minutes with KV cache usage &ge; 90 %.</p>"]
        ranked = sorted(read, key=lambda s: (-s.kv_saturated_minutes, -s.starts, -sum(s.failures.values()), s.key))
        top = max((s.kv_saturated_minutes for s in ranked), default=0.0) or 1.0
        out.append("<h2>Sources by KV saturation, restarts and failures</h2><p class='small'>Kubernetes sources as "
                   "namespace / pod / container, Docker ones by container id; hover for the source path.</p>"
                   "<table><tr><th>#</th><th>source</th><th>model</th><th>KV &ge; 90 % (min)</th><th>peak KV %</th>"
                   "<th>starts</th><th>failures before a stop</th></tr>")
        for i, s in enumerate(ranked, 1):
            shown = e(display_name(s))
            name = f"<a href='{e(s.report_link)}'>{shown}</a>" if s.report_link else shown
            bar = f"<span class='bar' style='width:{100 * s.kv_saturated_minutes / top:.0f}px'></span> " if s.kv_saturated_minutes else ""
            failures = ", ".join(f"{e(k)} &times;{n}" for k, n in sorted(s.failures.items()))
            peak = "" if s.peak_gpu_kv_usage_pct is None else f"{s.peak_gpu_kv_usage_pct:.1f}"
            out.append(f"<tr><td class='n'>{i}</td><td title='{e(s.key)}'>{name}</td><td>{e(', '.join(s.models))}</td>"
                       f"<td class='n'>{bar}{s.kv_saturated_minutes:.1f}</td><td class='n'>{peak}</td>"
                       f"<td class='n'>{s.starts}</td><td>{failures}</td></tr>")
        out.append("</table>")
        out.append("<h2>Observed capacity vs theory, per model</h2><p class='small'>Ratios are observed / theory "
                   "(vLLM's arithmetic on the logged budget, or on --model/--gpu); median over engine starts.</p>"
                   "<table><tr><th>model</th><th>sources</th><th>starts</th><th>KV tokens (median)</th>"
                   "<th>max concurrency (median)</th><th>peak running (max)</th><th>KV budget ratio</th>"
                   "<th>KV tokens ratio</th><th>concurrency ratio</th><th>weights ratio</th><th>KV &ge; 90 % (min)</th></tr>")
        for name, m in sorted(self.models.items()):
            def med(values: list) -> str:
                if not values:
                    return ""
                value = statistics.median(values)
                return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
            ratios = [med(m.ratios.get(k, [])) for k in ("kv_cache_memory_gib_ratio", "kv_cache_tokens_ratio", "max_concurrency_ratio", "model_weights_gib_ratio")]
            out.append(f"<tr><td>{e(name)}</td><td class='n'>{len(m.sources)}</td><td class='n'>{m.starts}</td>"
                       f"<td class='n'>{med(m.kv_cache_tokens)}</td><td class='n'>{med(m.max_concurrency)}</td>"
                       f"<td class='n'>{max(m.peak_running) if m.peak_running else ''}</td>"
                       + "".join(f"<td class='n'>{r}</td>" for r in ratios)
                       + f"<td class='n'>{m.saturated_minutes:.1f}</td></tr>")
        out.append("</table>")
        troubled = [s for s in self.sources if s.problems]
        if troubled:
            out.append("<h2>Sources with unreadable input</h2><table><tr><th>source</th><th>status</th><th>problem</th></tr>")
            for s in troubled:
                out.append(f"<tr><td title='{e(s.key)}'>{e(display_name(s))}</td><td class='warn'>{e(s.status)}</td><td>{'<br>'.join(e(p) for p in s.problems)}</td></tr>")
            out.append("</table>")
        out.append("<p class='small'>Details per start, per stats line and per error: starts.parquet, stats.parquet, "
                   "errors.parquet, sources.parquet beside this page (see docs/fleet.md for DuckDB queries).</p></body></html>")
        return "\n".join(out)
