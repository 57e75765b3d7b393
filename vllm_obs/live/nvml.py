"""Which GPU the sidecar sits beside, from NVML (optional: `pip install 'vllm-obs[nvml]'`).

Used only when --gpu is not given and the sidecar can see the GPU (same pod or container with
the device exposed). Never raises: no library, no driver or no device means None.
"""

from __future__ import annotations


def gpu_name_from_device_name(device_name: str) -> str | None:
    """NVML's device name ("NVIDIA GeForce RTX 4090", "NVIDIA H100 80GB HBM3") as a catalog name."""
    from vllm_obs.theory.gpus import UnknownGpuError, find_gpu

    candidates = [device_name]
    bare = device_name.replace("NVIDIA ", "").replace("GeForce ", "").strip()
    candidates += [bare, bare.replace(" ", "-")]
    for candidate in candidates:
        try:
            return find_gpu(candidate).name
        except UnknownGpuError:
            continue
    return None


def detect_gpu() -> tuple[str | None, float] | None:
    """(catalog name or None, total memory GiB) of GPU 0, or None when NVML cannot answer."""
    try:
        import pynvml  # from nvidia-ml-py
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            name = pynvml.nvmlDeviceGetName(handle)
            if isinstance(name, bytes):
                name = name.decode("utf-8", "replace")
            total = pynvml.nvmlDeviceGetMemoryInfo(handle).total / 2**30
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # noqa: BLE001 - NVMLError and friends: no GPU visible here
        return None
    return gpu_name_from_device_name(name), total
