"""First boot (`salestag-gateway provision`, run by salestag-firstboot.service as root)."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from gateway.accounts.setup_code import SETUP_ALPHABET, setup_code_digest


def _provision(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "gateway.toml"
    config.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n'
                      '[site]\ngateway_id = "gw-fb"\n')
    return subprocess.run([sys.executable, "-m", "gateway", "--config", str(config),
                           "provision", "--credstore", str(tmp_path / "credstore"), *extra],
                          capture_output=True, text=True, timeout=120)


def test_provision_makes_keys_ca_and_a_setup_code_once(tmp_path: Path) -> None:
    first = _provision(tmp_path)
    assert first.returncode == 0, first.stderr
    code = next(line.split()[2] for line in first.stdout.splitlines()
                if line.startswith("SETUP CODE:"))
    assert len(code) == 14 and all(c in SETUP_ALPHABET for c in code.replace("-", ""))
    credstore, data = tmp_path / "credstore", tmp_path / "data"
    assert oct(credstore.stat().st_mode & 0o777) == "0o700"
    for name in ("kek.key", "gateway-signing.key", "ca.key"):
        assert oct((credstore / name).stat().st_mode & 0o777) == "0o600", name
    assert not (data / "keys" / "kek.key").exists()  # keys only in the credential store
    stored = json.loads((data / "setup-code.json").read_text())
    assert stored["sha256"] == setup_code_digest(code.lower().replace("-", " "))
    assert code not in (data / "setup-code.json").read_text()
    ca = x509.load_pem_x509_certificate((data / "tls" / "ca.crt").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (data / "keys" / "gateway-signing.pub").exists()
    keys_before = {p.name: p.read_bytes() for p in credstore.iterdir()}

    second = _provision(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "already provisioned" in second.stdout and "SETUP CODE" not in second.stdout
    assert {p.name: p.read_bytes() for p in credstore.iterdir()} == keys_before


@pytest.mark.skipif(os.geteuid() != 0, reason="handing files to another user needs root")
def test_provision_hands_the_data_directory_to_the_service_user(tmp_path: Path) -> None:
    result = _provision(tmp_path, "--owner", "nobody", "--broker-group", "mosquitto")
    assert result.returncode == 0, result.stderr
    nobody = pwd.getpwnam("nobody").pw_uid
    data = tmp_path / "data"
    assert data.stat().st_uid == nobody
    assert (data / "tls" / "ca.crt").stat().st_uid == nobody
    broker = data / "mosquitto"
    assert oct(broker.stat().st_mode & 0o777) == "0o770"
    assert (tmp_path / "credstore" / "kek.key").stat().st_uid == 0
