"""`--web-config-file`: TLS and basic auth for /metrics, in the Prometheus exporter-toolkit format
(the file node_exporter and Prometheus itself take with --web.config.file):

    tls_server_config:
      cert_file: /etc/vllm-obs/tls.crt
      key_file: /etc/vllm-obs/tls.key
      client_ca_file: /etc/vllm-obs/ca.crt          # optional: client certificates
      client_auth_type: RequireAndVerifyClientCert  # NoClientCert (default), VerifyClientCertIfGiven
      min_version: TLS12                            # optional: TLS12 (default) or TLS13
    basic_auth_users:
      prometheus: $2b$12$...                        # bcrypt hashes only

Every mistake (unknown key, unreadable file, a certificate that does not load, a hash that is not
bcrypt) is a WebConfigError with a one-line message, raised at start.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

TLS_KEYS = {"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version", "max_version"}
TOP_KEYS = {"tls_server_config", "basic_auth_users"}
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# Go's RequestClientCert / RequireAnyClientCert ask for a certificate without verifying it: Python's
# ssl module cannot do that, and an unverified certificate authenticates nobody.
UNSUPPORTED_CLIENT_AUTH = {"RequestClientCert", "RequireAnyClientCert", "RequireClientCert"}
VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
BCRYPT_HASH = re.compile(r"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")


class WebConfigError(ValueError):
    pass


@dataclass
class WebConfig:
    path: str
    tls: dict[str, str] = field(default_factory=dict)
    users: dict[str, bytes] = field(default_factory=dict)  # user -> bcrypt hash
    # bcrypt costs ~0.1-0.3 s by design; like exporter-toolkit, remember credentials that
    # passed (keyed by a salted digest, never the password) so that scrapes stay fast.
    _passed: set[bytes] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _salt: bytes = field(default_factory=lambda: os.urandom(16), repr=False)
    _dummy: bytes | None = field(default=None, repr=False)

    def _unknown_user_hash(self) -> bytes:
        with self._lock:
            if self._dummy is None:
                import bcrypt

                cost = max(int(h[4:6]) for h in self.users.values())  # $2b$NN$...: the same cost as the real ones
                self._dummy = bcrypt.hashpw(os.urandom(16).hex().encode(), bcrypt.gensalt(rounds=cost))
            return self._dummy

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server-side TLS context, or None without tls_server_config."""
        if not self.tls:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = VERSIONS[self.tls.get("min_version", "TLS12")]
        if "max_version" in self.tls:
            context.maximum_version = VERSIONS[self.tls["max_version"]]
        try:
            context.load_cert_chain(self.tls["cert_file"], self.tls["key_file"])
        except (OSError, ssl.SSLError) as exc:
            raise WebConfigError(f"{self.path}: cannot load cert_file {self.tls['cert_file']} / key_file {self.tls['key_file']}: {_reason(exc)}") from None
        context.verify_mode = CLIENT_AUTH[self.tls.get("client_auth_type", "NoClientCert")]
        if "client_ca_file" in self.tls:
            try:
                context.load_verify_locations(cafile=self.tls["client_ca_file"])
            except (OSError, ssl.SSLError) as exc:
                raise WebConfigError(f"{self.path}: cannot load client_ca_file {self.tls['client_ca_file']}: {_reason(exc)}") from None
        return context

    def authorized(self, header: str | None) -> bool:
        """Whether an Authorization header names a user with the right password."""
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        import bcrypt

        hashed = self.users.get(user)
        if hashed is None:
            # As exporter-toolkit: an unknown user costs one bcrypt check too, so that response
            # times do not tell which user names exist.
            bcrypt.checkpw(password.encode(), self._unknown_user_hash())
            return False
        key = hmac.new(self._salt, b"\0".join((user.encode(), password.encode(), hashed)), hashlib.sha256).digest()
        with self._lock:
            if key in self._passed:
                return True
        if not bcrypt.checkpw(password.encode(), hashed):
            return False
        with self._lock:
            self._passed.add(key)
        return True


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def load(path: str) -> WebConfig:
    """Read and check a web config file; the TLS context is built once here so that a bad
    certificate is reported at start, not on the first scrape."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            raw: Any = yaml.safe_load(handle)
    except OSError as exc:
        raise WebConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise WebConfigError(f"{path}: not valid YAML{where}") from None
    raw = raw or {}
    if not isinstance(raw, dict):
        raise WebConfigError(f"{path}: expected a mapping with tls_server_config and/or basic_auth_users")
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise WebConfigError(f"{path}: unknown key(s) {', '.join(sorted(map(str, unknown)))} (vllm-obs reads {', '.join(sorted(TOP_KEYS))})")
    config = WebConfig(path=path, tls=_tls(path, raw.get("tls_server_config")), users=_users(path, raw.get("basic_auth_users")))
    config.ssl_context()
    return config


def _tls(path: str, section: Any) -> dict[str, str]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise WebConfigError(f"{path}: tls_server_config must be a mapping")
    unknown = set(section) - TLS_KEYS
    if unknown:
        raise WebConfigError(f"{path}: tls_server_config: unsupported key(s) {', '.join(sorted(map(str, unknown)))} (supported: {', '.join(sorted(TLS_KEYS))})")
    tls = {str(k): str(v) for k, v in section.items() if v not in (None, "")}
    for key in ("cert_file", "key_file"):
        if key not in tls:
            raise WebConfigError(f"{path}: tls_server_config: missing {key}")
    auth = tls.get("client_auth_type", "NoClientCert")
    if auth in UNSUPPORTED_CLIENT_AUTH:
        raise WebConfigError(f"{path}: client_auth_type {auth} (a certificate that is not verified) is not supported: use VerifyClientCertIfGiven or RequireAndVerifyClientCert")
    if auth not in CLIENT_AUTH:
        raise WebConfigError(f"{path}: invalid client_auth_type {auth!r} (one of {', '.join(CLIENT_AUTH)})")
    if auth != "NoClientCert" and "client_ca_file" not in tls:
        raise WebConfigError(f"{path}: client_auth_type {auth} needs a client_ca_file to verify certificates against")
    if "client_ca_file" in tls and auth == "NoClientCert":
        raise WebConfigError(f"{path}: client_ca_file is set without a client_auth_type (as exporter-toolkit, this is refused)")
    for key in ("min_version", "max_version"):
        if key in tls and tls[key] not in VERSIONS:
            raise WebConfigError(f"{path}: {key} {tls[key]!r} is not one of {', '.join(VERSIONS)}")
    return tls


def _users(path: str, section: Any) -> dict[str, bytes]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise WebConfigError(f"{path}: basic_auth_users must map user names to bcrypt hashes")
    users = {}
    for user, hashed in section.items():
        if ":" in str(user):
            raise WebConfigError(f"{path}: basic_auth_users: user name {user!r} contains ':'")
        if not isinstance(hashed, str) or not BCRYPT_HASH.match(hashed):
            raise WebConfigError(
                f"{path}: basic_auth_users: the password of {user!r} is not a bcrypt hash "
                "(make one with: python -c \"import bcrypt, getpass; print(bcrypt.hashpw(getpass.getpass().encode(), bcrypt.gensalt()).decode())\")"
            )
        users[str(user)] = hashed.encode()
    return users
