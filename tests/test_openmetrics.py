"""The export's sample text (metrics/openmetrics.py): the fast paths give what the plain rule
gives (repr of the float, NaN/+Inf/-Inf), and the spool writes every sample of every family."""

from __future__ import annotations

import io
import math

from hypothesis import given
from hypothesis import strategies as st

from vllm_obs.metrics.catalog import NAMES
from vllm_obs.metrics.openmetrics import FamilySpool, _format_value


def plain(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


@given(st.one_of(st.integers(-3, 3), st.booleans(), st.floats(allow_nan=True, allow_infinity=True),
                 st.sampled_from([0.0, -0.0, 1.0, -1.0, 0, 1, True, False])))
def test_value_text_is_the_plain_rule(value: float) -> None:
    assert _format_value(value) == plain(value)


def test_spool_writes_every_sample_in_order_per_family() -> None:
    spool = FamilySpool()
    try:
        for i in range(20_000):  # more than one batch of pending lines
            spool.write(NAMES.log_lines_total, {"source": "a", "result": "matched"}, i, f" {i}.000\n")
            spool.write(NAMES.source_up, {"source": "a"}, 1, f" {i}.000\n")
        out = io.StringIO()
        spool.finish(out)
    finally:
        spool.close()
    lines = out.getvalue().splitlines()
    counter = [line for line in lines if line.startswith("vllm_obs_log_lines_total{")]
    up = [line for line in lines if line.startswith("vllm_obs_source_up{")]
    assert counter == [f'vllm_obs_log_lines_total{{result="matched",source="a"}} {float(i)!r} {i}.000' for i in range(20_000)]
    assert len(up) == 20_000 and up[0] == 'vllm_obs_source_up{source="a"} 1.0 0.000'
    assert lines[-1] == "# EOF"
