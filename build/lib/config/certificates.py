"""THE rule for an app's certificate file (Teams' `teams.certificate_file`): one PEM file with
an RSA private key (Entra ID takes RS256 assertions only) and its X.509 certificate. `check`
reads it with this at start, so a wrong file is named then, not at the first reply."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def read_app_certificate(path: Path) -> tuple[Any, Any]:
    """The certificate and its RSA private key from `path`; ValueError saying what is wrong."""
    from cryptography import x509  # only where a certificate is configured
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = path.read_bytes()
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise ValueError("no PEM certificate in it") from None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ValueError("no unencrypted PEM private key in it") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("its private key is not an RSA key (Entra ID takes RS256 only)")
    return certificate, key
