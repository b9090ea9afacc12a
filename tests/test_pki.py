"""The gateway's certificates on real files: one CA however it is made, one fingerprint format,
the broker's files handed to the configured broker account, and the upload API's one database
connection per server process."""

from __future__ import annotations

import io
import pwd
from pathlib import Path

import pytest

from gateway.appliance import provision
from gateway.broker import BrokerFiles, broker_dir
from gateway.config import Config
from gateway.pki.ca import LocalCA, fingerprint, load_certificate
from gateway.pki.certificates import load_ca
from gateway.pki.errors import PkiError
from gateway.pki.pairing import pair_badge
from gateway.pki.registry import BadgeRegistry
from gateway.protocol.acks import Ack
from gateway.protocol.topics import TopicKind
from gateway.service import initialize
from gateway.store.db import open_db
from gateway.store.layout import Layout


def make_config(tmp_path: Path, **broker: str) -> Config:
    config = Config()
    config.paths.data_dir = str(tmp_path / "data")
    config.site.gateway_id = "gw-test"
    for name, value in broker.items():
        setattr(config.broker, name, value)
    return config


def test_provisioning_and_the_service_share_one_ca(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config(tmp_path)
    credstore = tmp_path / "credstore"
    result = provision(config, credstore, issue_file=None)
    assert "local CA" in result.created
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credstore))  # as systemd hands it over
    ca = load_ca(config)  # what the service, pairing and the web certificate use
    made = load_certificate(Layout(config.data_dir).ca_cert)
    assert fingerprint(ca.cert) == fingerprint(made)
    assert ca.cert.public_key() == LocalCA.load(credstore / "ca.key", Layout(config.data_dir)
                                                .ca_cert).key.public_key()
    assert "local CA" not in provision(config, credstore, issue_file=None).created


def test_a_ca_certificate_of_another_key_is_refused(tmp_path: Path) -> None:
    first = LocalCA.create(tmp_path / "a" / "ca.key", tmp_path / "a" / "ca.crt", "A")
    LocalCA.create(tmp_path / "b" / "ca.key", tmp_path / "b" / "ca.crt", "B")
    with pytest.raises(PkiError, match="does not belong"):
        LocalCA.load(tmp_path / "b" / "ca.key", tmp_path / "a" / "ca.crt")
    assert LocalCA.load(tmp_path / "a" / "ca.key", tmp_path / "a" / "ca.crt").cert == first.cert


def test_a_missing_half_of_the_ca_is_not_replaced(tmp_path: Path) -> None:
    LocalCA.create(tmp_path / "ca.key", tmp_path / "ca.crt", "A")
    (tmp_path / "ca.crt").unlink()
    with pytest.raises(PkiError, match="restore it from a backup"):
        LocalCA.load_or_create(tmp_path / "ca.key", tmp_path / "ca.crt", "A")


def test_bundles_registry_and_web_ui_show_one_fingerprint_format(tmp_path: Path) -> None:
    from webui.server import announce

    config = make_config(tmp_path)
    initialize(config)
    db = open_db(Layout(config.data_dir).db)
    try:
        bundle = pair_badge(config, db, "badge-1", tmp_path / "bundles", reload=False)
        stored = BadgeRegistry(db).all()[0].cert_fingerprint
    finally:
        db.close()
    assert bundle.enrolment["ca_sha256"] == fingerprint(load_ca(config).cert)
    assert stored == fingerprint(load_certificate(bundle.cert))
    out = io.StringIO()
    announce(config, out)
    web = fingerprint(load_certificate(Layout(config.data_dir).root / "web" / "server.crt"))
    assert f"certificate SHA-256 {web})" in out.getvalue()
    assert all(len(f) == 64 and f == f.lower() and ":" not in f
               for f in (stored, web, str(bundle.enrolment["ca_sha256"])))


def test_the_broker_files_belong_to_the_configured_broker_account(tmp_path: Path) -> None:
    if Path("/proc/self").stat().st_uid != 0:
        pytest.fail("this test runs as root (files can only be given away by root)")
    account = pwd.getpwnam("nobody")
    config = make_config(tmp_path, user="nobody")
    initialize(config)
    files = BrokerFiles(broker_dir(config))
    for path in (files.directory, files.passwd, files.acl_local, files.acl_badges, files.ca,
                 files.cert, files.key, files.crl):
        assert path.stat().st_uid == account.pw_uid, path
    assert "user nobody" in files.conf.read_text().splitlines()


class RecordingUplink:
    """Stands in for the broker link: no ack seen yet, so the answer comes from the database."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def submit(self, badge_id: str, kind: TopicKind, payload: bytes, session_id: str,
               seq: int | None, timeout_s: float) -> Ack | None:
        raise AssertionError("not used here")

    def last_ack(self, badge_id: str, session_id: str) -> Ack | None:
        return None


def test_the_upload_api_opens_the_database_once_per_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import webui.badge_api
    from webui.badge_api import create_badge_app

    config = make_config(tmp_path)
    initialize(config)
    db = open_db(Layout(config.data_dir).db)
    try:
        token = str(pair_badge(config, db, "badge-1", tmp_path / "bundles",
                               reload=False).enrolment["upload_token"])
    finally:
        db.close()
    opened: list[Path] = []

    def counting_open(path: Path, **kwargs: bool) -> object:
        opened.append(path)
        return open_db(path, **kwargs)

    monkeypatch.setattr(webui.badge_api, "open_db", counting_open)
    client = create_badge_app(config, RecordingUplink).test_client()
    answers = [client.get(f"/api/v1/badges/badge-1/sessions/s{n}",
                          headers={"Authorization": f"Bearer {token}"}) for n in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert [a.get_json() for a in answers] == [{"seq": None}] * 4
    refused = client.get("/api/v1/badges/badge-1/sessions/s1",
                         headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 403
    assert opened == [Layout(config.data_dir).db]
