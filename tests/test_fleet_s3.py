"""vllm-obs fleet reading the generated cluster tree from object storage: moto's standalone S3
server on 127.0.0.1 (the S3 API over HTTP; no MinIO or Ceph installs from these registries),
through s3:// URLs with credentials and endpoint from the environment; and through file:// URLs.
Both give the tables of the local run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pq = pytest.importorskip("pyarrow.parquet", reason="the fleet tests need the fleet extra: pip install -e '.[test]'")
boto3 = pytest.importorskip("boto3", reason="the S3 test needs boto3 and moto[server]: pip install -e '.[test]'")

from fleet_tree import PODS, build_tree
from realparts import _stop_process, free_port, wait_for

TABLES = ("starts", "stats", "errors", "sources")
BUCKET = "cluster-logs"


def fleet(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vllm_obs", "fleet", *args, "--no-progress"],
                          capture_output=True, text=True, timeout=600, env=env)


def tables(outdir: Path) -> dict[str, list[dict]]:
    out = {}
    for name in TABLES:
        rows = pq.read_table(outdir / f"{name}.parquet").to_pylist()
        for row in rows:
            row.pop("root", None)  # the argument the source was found under: differs by design
        out[name] = rows
    return out


@pytest.fixture(scope="module")
def s3_env(tmp_path_factory):
    server = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or shutil.which("moto_server")
    if server is None:
        pytest.skip("moto_server not installed: pip install -e '.[test]'")
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    try:
        client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
                              region_name="us-east-1")
        wait_for(lambda: client.list_buckets() is not None, 30, "moto_server to answer")
        yield env, client
    finally:
        _stop_process(proc)
        log.close()


@pytest.fixture(scope="module")
def local_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster")
    return root, build_tree(root)


@pytest.fixture(scope="module")
def local_run(local_tree, tmp_path_factory):
    root, _keys = local_tree
    out = tmp_path_factory.mktemp("local")
    proc = fleet(str(root), "-o", str(out), "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    return proc, tables(out)


def test_s3_tree_gives_the_local_tables(s3_env, local_tree, local_run, tmp_path):
    env, client = s3_env
    root, keys = local_tree
    client.create_bucket(Bucket=BUCKET)
    uploaded = 0
    for path in sorted(root.rglob("*")):
        if path.is_file():
            client.upload_file(str(path), BUCKET, f"nodes/{path.relative_to(root)}")
            uploaded += 1
    assert uploaded > PODS
    proc = fleet(f"s3://{BUCKET}/nodes", "-o", str(tmp_path / "s3"), "--jobs", "2", env=env)
    assert proc.returncode == 0, proc.stderr
    got = tables(tmp_path / "s3")
    assert len(got["sources"]) == PODS + 2
    assert got == local_run[1]
    # The unreadable object is reported exactly as the unreadable file was.
    local_warnings = [line for line in local_run[0].stderr.splitlines() if "warning" in line]
    s3_warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert s3_warnings == local_warnings and any(keys["broken"] in line for line in s3_warnings)
    roots = {row["root"] for row in pq.read_table(tmp_path / "s3" / "sources.parquet").to_pylist()}
    assert roots == {f"s3://{BUCKET}/nodes"}


def test_s3_bucket_that_does_not_exist_is_a_one_line_error(s3_env, tmp_path):
    env, _client = s3_env
    proc = fleet("s3://no-such-bucket-here/pods", "-o", str(tmp_path / "x"), env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[0].startswith("vllm-obs fleet: warning: s3://no-such-bucket-here/pods")


def test_file_url_gives_the_local_tables(local_tree, local_run, tmp_path):
    root, _keys = local_tree
    proc = fleet(f"file://{root}", "-o", str(tmp_path / "f"), "--jobs", "1")
    assert proc.returncode == 0, proc.stderr
    assert tables(tmp_path / "f") == local_run[1]
