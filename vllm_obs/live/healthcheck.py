"""`python -m vllm_obs.live.healthcheck`: the container image's HEALTHCHECK.

Asks the sidecar's /healthz at the address it was configured with through the environment
(VLLM_OBS_HOST, VLLM_OBS_PORT, VLLM_OBS_WEB_CONFIG_FILE; a wildcard listen address is asked on
loopback), over HTTPS when the web config has tls_server_config. Exit 0 when healthy, 1
otherwise, with the reason on one line. Flags given on the `vllm-obs run` command line are not
visible to it: set the port and web config as environment variables where the healthcheck is used.
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.error
import urllib.request

WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def url_and_context(environ: dict[str, str]) -> tuple[str, ssl.SSLContext | None]:
    host = environ.get("VLLM_OBS_HOST", "0.0.0.0")
    host = WILDCARDS.get(host, host)
    port = int(environ.get("VLLM_OBS_PORT", "9400"))
    context = None
    web_config = environ.get("VLLM_OBS_WEB_CONFIG_FILE")
    if web_config:
        from vllm_obs.live import webconfig

        tls = webconfig.load(web_config).tls
        if tls:
            # The sidecar checks itself on loopback: the certificate names the service, not
            # 127.0.0.1, so it is not verified here. With client certificates required, the
            # server's own pair is presented (it works when the client CA signed it).
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            if tls.get("client_auth_type", "NoClientCert") != "NoClientCert":
                context.load_cert_chain(tls["cert_file"], tls["key_file"])
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if context else 'http'}://{shown}:{port}/healthz", context


def main() -> int:
    try:
        url, context = url_and_context(dict(os.environ))
        with urllib.request.urlopen(url, timeout=3, context=context) as response:
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as error:
        print(f"unhealthy: {error.code} {error.read().decode(errors='replace').strip()}", file=sys.stderr)
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
