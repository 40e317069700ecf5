"""The metrics endpoint over TLS with client-certificate authentication."""

from __future__ import annotations

import ssl
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.policy_samples.sampletree import Sample, build_tree
from tests.realtools import require_tool
from tests.service.harness import DaemonProcess

pytestmark = pytest.mark.services


def _cert(openssl: str, directory, name: str, ca=None) -> tuple[str, str]:
    key, cert = str(directory / f"{name}.key"), str(directory / f"{name}.crt")
    if ca is None:
        subprocess.run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                key,
                "-out",
                cert,
                "-days",
                "2",
                "-subj",
                f"/CN={name}",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
        )
        return cert, key
    csr = str(directory / f"{name}.csr")
    extensions = directory / f"{name}.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1\n")
    subprocess.run(
        [
            openssl,
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            key,
            "-out",
            csr,
            "-subj",
            f"/CN={name}",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            openssl,
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca[0],
            "-CAkey",
            ca[1],
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "2",
            "-extfile",
            str(extensions),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_tls_endpoint_requires_a_client_certificate(tmp_path):
    """With tls and client_ca set, a client with a CA-signed cert scrapes; one without cannot."""
    openssl = require_tool("openssl")
    ca = _cert(openssl, tmp_path, "ca")
    server = _cert(openssl, tmp_path, "server", ca)
    client = _cert(openssl, tmp_path, "client", ca)
    root = build_tree(Sample("demo"), str(tmp_path / "root"))
    daemon = DaemonProcess(root, str(tmp_path))
    with open(daemon.config_path, encoding="utf-8") as handle:
        text = handle.read()
    text = text.replace(
        f"metrics: {{listen: '127.0.0.1:{daemon.port}'}}",
        f"metrics:\n  listen: '127.0.0.1:{daemon.port}'\n"
        f"  tls: {{cert: {server[0]}, key: {server[1]}, client_ca: {ca[0]}}}",
    )
    with open(daemon.config_path, "w", encoding="utf-8") as handle:
        handle.write(text)
    daemon.start()
    try:
        url = f"https://127.0.0.1:{daemon.port}/metrics"
        context = ssl.create_default_context(cafile=ca[0])
        context.load_cert_chain(*client)
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            assert b"maildrift_rule_compliant{" in response.read()
        anonymous = ssl.create_default_context(cafile=ca[0])
        with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
            urllib.request.urlopen(url, context=anonymous, timeout=10).read()
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(f"http://127.0.0.1:{daemon.port}/metrics", timeout=10).read()
    finally:
        daemon.stop()
