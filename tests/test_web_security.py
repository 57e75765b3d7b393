"""TLS and basic auth (--web-config-file, exporter-toolkit format) with real clients: Python's ssl
module and a real Prometheus scraping over HTTPS with basic auth. Certificates are made here
with the openssl CLI, under tmp_path."""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt
import pytest
import yaml
from prometheus_client import CollectorRegistry

from realparts import Prometheus, Sidecar, free_port, wait_for
from vllm_obs.live import webconfig
from vllm_obs.live.server import MetricsServer

LOG = Path(__file__).resolve().parent.parent / "samples" / "real-logs" / "060-realgpu-h100-v0271-qwen3-8b-full-run" / "input.log"
PASSWORD = "correct horse battery staple"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is not installed")
    root = tmp_path_factory.mktemp("pki")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=vllm-obs test CA", cwd=root)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"), ("client", "extendedKeyUsage=clientAuth")):
        (root / f"{name}.ext").write_text(ext + "\n")
        _openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=root)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=root)
    return root


def write_config(path: Path, config: dict) -> str:
    path.write_text(yaml.safe_dump(config))
    return str(path)


def tls_config(pki: Path, **extra: str) -> dict:
    return {"cert_file": str(pki / "server.crt"), "key_file": str(pki / "server.key"), **extra}


def users() -> dict:
    return {"prometheus": bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()}


def client_context(pki: Path, cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    if cert:
        context.load_cert_chain(str(pki / "client.crt"), str(pki / "client.key"))
    return context


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def get(url: str, context: ssl.SSLContext | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10, context=context) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


@pytest.fixture
def secure_sidecar(tmp_path: Path, pki: Path):
    log = tmp_path / "vllm.log"
    shutil.copy(LOG, log)
    config = write_config(tmp_path / "web.yml", {"tls_server_config": tls_config(pki), "basic_auth_users": users()})
    process = Sidecar("--file", str(log), "--web-config-file", config, tls=client_context(pki))
    yield process, str(log)
    assert process.close() == 0


def test_https_and_basic_auth_with_a_real_tls_client(secure_sidecar, pki: Path) -> None:
    process, source = secure_sidecar
    context = client_context(pki)
    https = f"https://127.0.0.1:{process.port}"
    # Plain HTTP reaches a TLS server: no HTTP answer ever comes back.
    with pytest.raises((OSError, http.client.HTTPException)):
        get(f"http://127.0.0.1:{process.port}/metrics")
    # A client that does not trust the test CA refuses the certificate.
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        get(f"{https}/metrics", ssl.create_default_context())
    status, headers, _ = get(f"{https}/metrics", context)
    assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="vllm-obs"'
    status, headers, body = get(f"{https}/metrics", context, basic("prometheus", "wrong"))
    assert status == 401 and "vllm_obs_" not in body and headers["WWW-Authenticate"].startswith("Basic ")
    assert get(f"{https}/metrics", context, basic("nobody", PASSWORD))[0] == 401
    capacity = f'vllm_obs_kv_cache_capacity_tokens{{engine="0",model="qwen3-8b-random",source="{source}"}} 395712.0'

    def served() -> bool:
        status, _, body = get(f"{https}/metrics", context, basic("prometheus", PASSWORD))
        return status == 200 and capacity in body

    wait_for(served, 30, "the KV capacity over HTTPS with the right password")
    # Probes carry no credentials: the health endpoints answer without them (over TLS still).
    assert get(f"{https}/healthz", context)[0] == 200


def test_client_certificates_required(tmp_path: Path, pki: Path) -> None:
    config = webconfig.load(write_config(tmp_path / "web.yml", {"tls_server_config": tls_config(pki, client_ca_file=str(pki / "ca.crt"), client_auth_type="RequireAndVerifyClientCert")}))
    server = MetricsServer("127.0.0.1", 0, CollectorRegistry(), healthy=lambda: (True, "ok"), web=config)
    server.start()
    try:
        url = f"https://127.0.0.1:{server.port}/healthz"
        with pytest.raises((OSError, http.client.HTTPException)):  # TLS 1.3 reports the missing certificate on the first read
            get(url, client_context(pki))
        status, _, body = get(url, client_context(pki, cert=True))
        assert (status, body) == (200, "ok\n")
    finally:
        server.stop()


@pytest.mark.parametrize(
    "content, message",
    [
        ("tls_server_config: [", "not valid YAML"),
        ("basic_auth: {}", "unknown key(s) basic_auth"),
        ("basic_auth_users: {prometheus: secret}", "the password of 'prometheus' is not a bcrypt hash"),
        ("tls_server_config: {cert_file: /nonexistent.crt, key_file: /nonexistent.key}", "cannot load cert_file /nonexistent.crt"),
        ("tls_server_config: {cert_file: CERT, key_file: KEY, client_ca_file: CA}", "client_ca_file is set without a client_auth_type"),
        ("tls_server_config: {cert_file: CERT, key_file: KEY, client_auth_type: RequireAnyClientCert}", "is not supported"),
        ("tls_server_config: {cert_file: CERT}", "missing key_file"),
    ],
)
def test_a_bad_web_config_is_one_line_at_start(tmp_path: Path, pki: Path, content: str, message: str) -> None:
    content = content.replace("CERT", str(pki / "server.crt")).replace("KEY", str(pki / "server.key")).replace("CA", str(pki / "ca.crt"))
    (tmp_path / "web.yml").write_text(content)
    (tmp_path / "vllm.log").write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "vllm_obs", "run", "--file", str(tmp_path / "vllm.log"), "--port", str(free_port()), "--web-config-file", str(tmp_path / "web.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("vllm-obs run: --web-config-file: ") and message in result.stderr


def test_prometheus_scrapes_over_https_with_basic_auth(secure_sidecar, pki: Path) -> None:
    reason = Prometheus.available()
    if reason:
        pytest.skip(f"no real Prometheus here: {reason}")
    process, source = secure_sidecar
    scrape = {
        "scheme": "https",
        "tls_config": {"ca_file": str(pki / "ca.crt")},
        "basic_auth": {"username": "prometheus", "password": PASSWORD},
    }
    prometheus = Prometheus([f"127.0.0.1:{process.port}"], scrape=scrape)
    try:
        prometheus.start()

        def target() -> dict | None:
            with urllib.request.urlopen(f"{prometheus.url}/api/v1/targets", timeout=5) as response:
                active = json.load(response)["data"]["activeTargets"]
            return active[0] if active and active[0]["health"] == "up" else None

        up = wait_for(target, 40, "the HTTPS target to be up")
        assert up["scrapeUrl"] == f"https://127.0.0.1:{process.port}/metrics" and up["lastError"] == ""
        wait_for(lambda: prometheus.value(f'vllm_obs_kv_cache_capacity_tokens{{source="{source}"}}') == 395712, 30, "the KV capacity in Prometheus")
    finally:
        prometheus.close()


def test_the_documented_example_is_a_valid_web_config(tmp_path: Path, pki: Path) -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "operations.md").read_text()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    example = example.replace("/etc/vllm-obs/tls.crt", str(pki / "server.crt")).replace("/etc/vllm-obs/tls.key", str(pki / "server.key"))
    (tmp_path / "web.yml").write_text(example)
    config = webconfig.load(str(tmp_path / "web.yml"))
    assert config.authorized("Basic " + base64.b64encode(b"prometheus:change me").decode())
    assert not config.authorized("Basic " + base64.b64encode(b"prometheus:change it").decode())
    assert config.authorized("basic " + base64.b64encode(b"prometheus:change me").decode())  # the scheme is case-insensitive
    assert not config.authorized("Basic " + base64.b64encode(b"nobody:change me").decode())
    assert not config.authorized("Bearer change me") and not config.authorized("Basic %%%")


def test_the_image_healthcheck_speaks_https(secure_sidecar, tmp_path: Path) -> None:
    process, _ = secure_sidecar
    env = {"VLLM_OBS_HOST": "0.0.0.0", "VLLM_OBS_PORT": str(process.port)}
    plain = subprocess.run([sys.executable, "-m", "vllm_obs.live.healthcheck"], env=env, capture_output=True, text=True, timeout=30)
    assert plain.returncode == 1  # plain HTTP to the TLS port
    env["VLLM_OBS_WEB_CONFIG_FILE"] = str(tmp_path / "web.yml")
    tls = subprocess.run([sys.executable, "-m", "vllm_obs.live.healthcheck"], env=env, capture_output=True, text=True, timeout=30)
    assert (tls.returncode, tls.stderr) == (0, "")


def test_slow_tls_clients_hold_no_thread(tmp_path: Path, pki: Path) -> None:
    """Connections that stop mid-handshake or mid-request over TLS are waited for by the one
    acceptor thread: a real HTTPS scrape is answered meanwhile and no thread is added."""
    import socket
    import threading
    import time

    config = webconfig.load(write_config(tmp_path / "web.yml", {"tls_server_config": tls_config(pki)}))
    before = threading.active_count()
    server = MetricsServer("127.0.0.1", 0, CollectorRegistry(), healthy=lambda: (True, "ok"), web=config, timeout_seconds=2.0)
    server.start()
    clients: list[socket.socket] = []
    try:
        started_threads = threading.active_count()
        for i in range(100):
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            if i % 2:  # a complete handshake, then half a request
                tls = client_context(pki).wrap_socket(raw, server_hostname="127.0.0.1")
                tls.sendall(b"GET /healthz HTTP/1.1\r\n")
                clients.append(tls)
            else:  # silent before the handshake
                clients.append(raw)
        started = time.monotonic()
        assert get(f"https://127.0.0.1:{server.port}/healthz", client_context(pki))[0] == 200
        assert time.monotonic() - started < 1.0
        assert threading.active_count() == started_threads
        for client in clients:  # each closed by the server at its deadline
            assert client.recv(100) == b""
    finally:
        for client in clients:
            client.close()
        server.stop()
    wait_for(lambda: threading.active_count() == before, 5, "the server's threads to end")
