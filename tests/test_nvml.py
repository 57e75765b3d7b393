"""GPU detection through NVML.

No GPU and no NVIDIA driver exist on these machines, so NVML itself cannot run here: the
detection is tested with a stand-in `pynvml` module that answers as NVML does (device names as
real drivers report them), and without one (the normal case here: detection gives None).
"""

from __future__ import annotations

import sys
import types

import pytest

from vllm_obs.live.nvml import detect_gpu, gpu_name_from_device_name


@pytest.mark.parametrize(
    "device,expected",
    [
        ("NVIDIA H100 80GB HBM3", "H100-SXM"),
        ("NVIDIA A100-SXM4-80GB", "A100-80GB-SXM"),
        ("NVIDIA L40S", "L40S"),
        ("NVIDIA GeForce RTX 4090", "RTX-4090"),
        ("NVIDIA A10G", "A10G"),
        ("Some Future Accelerator", None),
    ],
)
def test_nvml_device_names_map_to_the_catalog(device: str, expected: str | None) -> None:
    assert gpu_name_from_device_name(device) == expected


def test_detect_gpu_with_a_stand_in_nvml(monkeypatch) -> None:
    fake = types.ModuleType("pynvml")
    fake.nvmlInit = lambda: None
    fake.nvmlShutdown = lambda: None
    fake.nvmlDeviceGetHandleByIndex = lambda i: ("handle", i)
    fake.nvmlDeviceGetName = lambda h: b"NVIDIA H100 80GB HBM3"  # older bindings return bytes
    fake.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(total=85_020_196_864)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    name, total = detect_gpu()
    assert name == "H100-SXM" and total == pytest.approx(79.18, abs=0.01)


def test_detect_gpu_without_a_driver(monkeypatch) -> None:
    fake = types.ModuleType("pynvml")

    def fail():
        raise RuntimeError("NVML Shared Library Not Found")

    fake.nvmlInit = fail
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert detect_gpu() is None
    monkeypatch.setitem(sys.modules, "pynvml", None)  # not installed
    assert detect_gpu() is None
