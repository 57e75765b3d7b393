"""Local stand-ins for the images the compose stack names, built from this machine's own files
(no registry here): each is a root filesystem with a Debian binary and the shared libraries
`ldd` lists, imported with `docker import`.

- `vllm/vllm-openai`: busybox printing a real vLLM log, then idling (as a served vLLM does);
- `haproxy`: Debian's haproxy binary;
- `prom/prometheus`: Debian's prometheus binary, with the official image's default flags;
- `vllm-obs`: Debian's python3.11 and its standard library, the package's dependencies
  (pip install --target) and this tree's vllm_obs, with the USER, ENV, EXPOSE and ENTRYPOINT of
  deploy/Dockerfile's final stage.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MERGED_USR = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}


def _usr(path: str) -> str:
    """A path inside the image, with Debian's merged /usr applied (/lib/x -> usr/lib/x)."""
    relative = path.lstrip("/")
    top, _, rest = relative.partition("/")
    return f"{MERGED_USR[top]}/{rest}" if top in MERGED_USR and rest else relative


def shared_libraries(binary: str) -> set[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    return {m.group(1) for m in re.finditer(r"(/\S+\.so[.\d]*)", out)}


class RootFS:
    """A tar archive built up as an image's root filesystem."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buffer, mode="w")  # noqa: SIM115 - closed in data()
        self.names: set[str] = set()
        for directory in ("usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "usr/local/bin", "etc", "tmp", "proc", "sys", "dev", "var/run", "run"):
            self.directory(directory, 0o1777 if directory == "tmp" else 0o755)
        for link, target in MERGED_USR.items():
            self.symlink(link, target)

    def directory(self, name: str, mode: int = 0o755, uid: int = 0) -> None:
        parts = name.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            path = "/".join(parts[:i])
            if path not in self.names:
                info = tarfile.TarInfo(path)
                info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode if i == len(parts) else 0o755, uid if i == len(parts) else 0, uid if i == len(parts) else 0
                self.tar.addfile(info)
                self.names.add(path)

    def symlink(self, name: str, target: str) -> None:
        if name not in self.names:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            self.tar.addfile(info)
            self.names.add(name)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self.directory(str(Path(name).parent))
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), mode
        self.tar.addfile(info, io.BytesIO(data))
        self.names.add(name)

    def host_file(self, path: str) -> None:
        """A file of this machine at the same place, following symlinks as they are."""
        name = _usr(path)
        if name in self.names:
            return
        self.directory(str(Path(name).parent))
        if os.path.islink(path):
            target = os.readlink(path)
            self.symlink(name, target)
            self.host_file(target if target.startswith("/") else os.path.normpath(os.path.join(os.path.dirname(path), target)))
            return
        self.tar.add(path, name, recursive=False)
        self.names.add(name)

    def binary(self, path: str) -> None:
        self.host_file(path)
        for library in shared_libraries(path):
            self.host_file(library)

    def tree(self, source: Path, name: str, skip: tuple[str, ...] = ("__pycache__",)) -> None:
        for directory, subdirs, files in os.walk(source):
            subdirs[:] = [d for d in subdirs if d not in skip]
            relative = os.path.relpath(directory, source)
            target = name if relative == "." else f"{name}/{relative}"
            self.directory(target)
            for file in files:
                full = os.path.join(directory, file)
                if os.path.islink(full):
                    self.symlink(f"{target}/{file}", os.readlink(full))
                else:
                    self.tar.add(full, f"{target}/{file}", recursive=False)
                    if file.endswith(".so") or ".so." in file:
                        for library in shared_libraries(full):
                            self.host_file(library)

    def data(self) -> bytes:
        self.tar.close()
        return self.buffer.getvalue()


def _import(client, image: str, rootfs: RootFS, changes: list[str]) -> None:  # noqa: ANN001 - a docker.DockerClient
    repository, _, tag = image.rpartition(":")
    client.api.import_image_from_data(rootfs.data(), repository=repository, tag=tag, changes=changes)


def vllm_image(client, image: str, log: Path) -> None:  # noqa: ANN001
    rootfs = RootFS()
    rootfs.host_file("/bin/busybox")
    for applet in ("sh", "cat", "sleep"):
        rootfs.symlink(f"usr/bin/{applet}", "busybox")
    rootfs.file("log/input.log", log.read_bytes())
    # The compose command (vLLM's flags) arrives as arguments and is ignored.
    rootfs.file("run.sh", b"trap 'exit 0' TERM\ncat /log/input.log\nwhile true; do sleep 1; done\n", 0o755)
    _import(client, image, rootfs, ['ENTRYPOINT ["/bin/sh", "/run.sh"]'])


def haproxy_image(client, image: str) -> None:  # noqa: ANN001
    rootfs = RootFS()
    rootfs.binary("/usr/sbin/haproxy")
    rootfs.directory("usr/local/etc/haproxy")
    # As the official image: user haproxy (99), the config at /usr/local/etc/haproxy/haproxy.cfg.
    _import(client, image, rootfs, ["USER 99", 'CMD ["/usr/sbin/haproxy", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]'])


def prometheus_image(client, image: str) -> None:  # noqa: ANN001
    rootfs = RootFS()
    rootfs.binary("/usr/bin/prometheus")
    if os.path.isdir("/usr/share/prometheus"):
        rootfs.tree(Path("/usr/share/prometheus"), "usr/share/prometheus")
    rootfs.directory("etc/prometheus")
    rootfs.directory("prometheus", 0o755, uid=65534)
    # As the official image: user nobody, these default flags.
    _import(
        client,
        image,
        rootfs,
        [
            "USER 65534",
            "WORKDIR /prometheus",
            'ENTRYPOINT ["/usr/bin/prometheus"]',
            'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]',
        ],
    )


def dockerfile_final_stage() -> list[tuple[str, str]]:
    from test_deploy_image import FINAL_STAGE

    return FINAL_STAGE


def sidecar_image(client, image: str, workdir: Path) -> None:  # noqa: ANN001
    if not os.path.exists("/usr/bin/python3.11"):
        raise RuntimeError("Debian's python3.11 is not installed")
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    packages = workdir / "site-packages"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check", "--target", str(packages), *dependencies],
        check=True,
        capture_output=True,
    )
    shutil.rmtree(packages / "bin", ignore_errors=True)  # scripts with this venv's interpreter in their shebang
    rootfs = RootFS()
    rootfs.binary("/usr/bin/python3.11")
    rootfs.symlink("usr/bin/python3", "python3.11")
    rootfs.symlink("usr/bin/python", "python3.11")
    rootfs.tree(Path("/usr/lib/python3.11"), "usr/lib/python3.11", skip=("__pycache__", "test", "idlelib", "tkinter", "turtledemo", "ensurepip", "dist-packages"))
    rootfs.tree(packages, "usr/lib/python3/dist-packages")
    rootfs.tree(ROOT / "vllm_obs", "usr/lib/python3/dist-packages/vllm_obs")
    rootfs.file("usr/local/bin/vllm-obs", b"#!/usr/bin/python3.11\nimport sys\nfrom vllm_obs.cli import main\nsys.exit(main())\n", 0o755)
    changes = ["ENV PYTHONPATH=/usr/lib/python3/dist-packages", "ENV PATH=/usr/local/bin:/usr/bin:/bin"]
    for name, args in dockerfile_final_stage():
        if name in ("USER", "ENV", "EXPOSE", "ENTRYPOINT"):
            changes.append(f"{name} {args}")
    assert json.loads(next(a for n, a in dockerfile_final_stage() if n == "ENTRYPOINT"))[0] == "vllm-obs"
    _import(client, image, rootfs, changes)
