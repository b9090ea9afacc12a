"""The web UI's certificate is issued by the gateway's local CA, for the box's names."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.config import parse_config
from gateway.pki.certificates import load_ca
from gateway.pki.webcert import ensure_web_cert


def test_web_certificate_comes_from_the_local_ca(tmp_path: Path) -> None:
    config = parse_config({"paths": {"data_dir": str(tmp_path / "data")}})
    paths = ensure_web_cert(config)
    cert = x509.load_pem_x509_certificate(paths.cert.read_bytes())
    ca = load_ca(config).cert
    assert cert.issuer == ca.subject
    public = ca.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(cert.signature, cert.tbs_certificate_bytes,
                  ec.ECDSA(cert.signature_hash_algorithm))  # type: ignore[arg-type]
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert paths.key.stat().st_mode & 0o077 == 0
    again = ensure_web_cert(config)  # kept, not reissued
    assert again.cert.read_bytes() == paths.cert.read_bytes()
