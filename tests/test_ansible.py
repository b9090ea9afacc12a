"""Ansible: site.yml applied to a real Debian bookworm chroot (debootstrap) through the
community.general.chroot connection; a second run changes nothing; update.yml switches to a new
release when /healthz says ok with the semantic tagger, and rolls back to the previous one when it
does not. Both install the speech model and the semantic tagger's text model built on the
controller, each checked against its pinned sha256.

In a chroot no systemd runs as PID 1, so the roles skip what needs a running systemd (start,
restart, daemon-reload, provisioning now) - the same guard that keeps keys out of an image. The
web UI that serves /healthz runs only under the real service, so its place is taken by a small
HTTP server on this machine (the chroot shares the network): one answering the documented
contract {"status": "ok"}, one answering 503 {"status": "degraded"}.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fleet_support import fresh_rootfs

from gateway.semantic import catalogue as text_catalogue

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
ANSIBLE = REPO / "ansible"
VENV_BIN = Path(sys.executable).parent
HOST = "gw-test"
RESTART_FOR_MODELS = "RUNNING HANDLER [model : Restart the gateway for its new models]"


def playbook(name: str, inventory: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(inventory.parent / "ansible-local"),
           "ANSIBLE_HOME": str(inventory.parent / "ansible-home")}
    artifacts = inventory.parent / "artifacts.json"
    return subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), name,
                           "-e", f"@{artifacts}", *extra], cwd=ANSIBLE, env=env,
                          capture_output=True, text=True, timeout=600)


def recap(output: str, host: str = HOST) -> dict[str, int]:
    match = re.search(rf"^{re.escape(host)}\s*:\s*(.*)$", output, re.MULTILINE)
    assert match, output[-3000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, model_path: Path,
          text_models: Path) -> Iterator[dict[str, Path]]:
    """A chroot provisioned by site.yml once for this module, and the artifacts it got."""
    rootfs = fresh_rootfs(tmp_path_factory, "fleet")
    work = rootfs.parent
    dist = work / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(dist), str(REPO)], check=True, capture_output=True, timeout=300,
                   env={**os.environ, "SOURCE_DATE_EPOCH": "315532800"})
    wheel = next(dist.glob("salestag_gateway-*.whl"))
    inventory = work / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"children": {"gateways": {"hosts": {HOST: {
        "ansible_host": str(rootfs),
        "ansible_connection": "community.general.chroot",
        "salestag_site_id": "store-test",
        "salestag_gateway_id": "gw-test",
        "salestag_apt_update_cache": False,
        "salestag_gateway_install_deps": False,
    }}}}}}))
    artifacts = work / "artifacts.json"  # extra vars: the build play on the controller sees them
    artifacts.write_text(json.dumps({"salestag_gateway_wheel": str(wheel),
                                     "salestag_model_src_dir": str(model_path.parent),
                                     "salestag_text_model_src_dir": str(text_models)}))
    first = playbook("site.yml", inventory)
    assert first.returncode == 0, first.stdout[-5000:] + first.stderr[-2000:]
    yield {"rootfs": rootfs, "inventory": inventory, "wheel": wheel,
           "work": work, "first_log": _save(work / "site-1.log", first.stdout),
           "model": model_path}
    shutil.rmtree(rootfs, ignore_errors=True)  # ~400 MB; the cached original stays


def _save(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_site_provisions_the_chroot_and_a_second_run_changes_nothing(
        fleet: dict[str, Path]) -> None:
    rootfs = fleet["rootfs"]
    assert recap(fleet["first_log"].read_text())["changed"] > 0
    second = playbook("site.yml", fleet["inventory"])
    assert second.returncode == 0, second.stdout[-5000:]
    assert recap(second.stdout)["changed"] == 0, second.stdout[-5000:]
    assert recap(second.stdout)["failed"] == 0

    # the release runs inside the chroot
    version = subprocess.run(["chroot", str(rootfs), "/opt/salestag/current/bin/salestag-gateway",
                              "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and "salestag-gateway" in version.stdout, version.stderr
    # service user, units enabled, broker drop-in
    assert re.search(r"^salestag:x:\d+:\d+::/var/lib/salestag:/usr/sbin/nologin$",
                     (rootfs / "etc/passwd").read_text(), re.MULTILINE)
    wants = rootfs / "etc/systemd/system/multi-user.target.wants"
    for unit in ("salestag-gateway.service", "salestag-firstboot.service", "mosquitto.service"):
        assert (wants / unit).is_symlink(), unit
    assert (rootfs / "etc/systemd/system/mosquitto.service.d/salestag.conf").is_file()
    # firewall: badge and UI ports from the LAN only, default drop
    nft = (rootfs / "etc/nftables.conf").read_text()
    assert "policy drop" in nft and "8883, 8444" in nft and "8443" in nft
    # the model is baked in and matches its pinned hash
    manifest = json.loads((rootfs / "var/lib/salestag/models/manifest.json").read_text())
    entry = manifest["models"][0]
    baked = rootfs / "var/lib/salestag/models" / entry["file"]
    assert hashlib.sha256(baked.read_bytes()).hexdigest() == entry["sha256"]
    # and the semantic tagger's text model, as the gateway checks it when it starts
    models = rootfs / "var/lib/salestag/models"
    assert text_catalogue.verify(models) == [("minilm", True)]
    installed = text_catalogue.resolve(models)
    assert installed.onnx.stat().st_uid == installed.tokenizer.stat().st_uid == _uid(rootfs)
    assert RESTART_FOR_MODELS in fleet["first_log"].read_text()
    # no keys in what could become an image: first boot makes them
    credstore = rootfs / "etc/credstore/salestag"
    assert credstore.is_dir() and oct(credstore.stat().st_mode & 0o777) == "0o700"
    assert list(credstore.iterdir()) == []
    config = (rootfs / "etc/salestag/gateway.toml").read_text()
    assert 'gateway_id = "gw-test"' in config


def _uid(rootfs: Path, user: str = "salestag") -> int:
    for line in (rootfs / "etc/passwd").read_text().splitlines():
        name, _, uid, *_ = line.split(":")
        if name == user:
            return int(uid)
    raise AssertionError(f"no user {user} in the chroot")


class _Health(http.server.BaseHTTPRequestHandler):
    answer: tuple[int, dict[str, object]] = (200, {"status": "ok"})
    hits = 0

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        type(self).hits += 1
        code, body = self.answer if self.path == "/healthz" else (404, {})
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(code: int, body: dict[str, object]) -> tuple[http.server.HTTPServer, type[_Health]]:
    handler = type("Health", (_Health,), {"answer": (code, body), "hits": 0})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler


def _current(rootfs: Path) -> str:
    return os.readlink(rootfs / "opt/salestag/current")


def _update(fleet: dict[str, Path], release: str, health: tuple[int, dict[str, object]]
            ) -> tuple[subprocess.CompletedProcess[str], type[_Health]]:
    """Run update.yml to ``release`` against a health endpoint answering ``health``."""
    server, handler = _serve(*health)
    try:
        result = playbook("update.yml", fleet["inventory"], "-e", f"salestag_release={release}",
                          "-e", f"salestag_healthz_url=http://127.0.0.1:{server.server_port}"
                          "/healthz",
                          "-e", "salestag_healthz_retries=2", "-e", "salestag_healthz_delay=1")
    finally:
        server.shutdown()
        server.server_close()
    return result, handler


def _with_database(rootfs: Path, marker: int) -> None:
    db = rootfs / "var/lib/salestag/gateway.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS marker (n INTEGER)")
        conn.execute("INSERT INTO marker VALUES (?)", (marker,))
    conn.close()


def _latest_backup(rootfs: Path) -> Path:
    return sorted((rootfs / "var/backups/salestag").iterdir())[-1]


def test_update_to_a_healthy_release_switches_after_a_backup(fleet: dict[str, Path]) -> None:
    rootfs = fleet["rootfs"]
    before = _current(rootfs)
    _with_database(rootfs, 7)
    # a box provisioned before the fleet installed the text model: the update brings it
    models = rootfs / "var/lib/salestag/models"
    shutil.rmtree(models / "minilm")
    (models / "text-models.json").unlink()
    result, handler = _update(fleet, "healthy-1", (200, {"status": "ok", "version": "test",
                                                         "engine": {"tagger": "semantic"}}))
    assert result.returncode == 0, result.stdout[-5000:]
    assert _current(rootfs) == "/opt/salestag/releases/healthy-1"
    assert handler.hits >= 1
    assert text_catalogue.verify(models) == [("minilm", True)]
    assert RESTART_FOR_MODELS in result.stdout
    backup = _latest_backup(rootfs)
    assert (backup / "release").read_text().strip() == Path(before).name
    with sqlite3.connect(backup / "gateway.db") as conn:
        assert 7 in [n for (n,) in conn.execute("SELECT n FROM marker")]
    conn.close()
    listing = subprocess.run(["tar", "-tzf", str(backup / "keys-and-config.tar.gz")],
                             capture_output=True, text=True, check=True).stdout
    assert "gateway.toml" in listing


def test_update_whose_health_check_fails_rolls_back(fleet: dict[str, Path]) -> None:
    rootfs = fleet["rootfs"]
    before = _current(rootfs)
    result, handler = _update(fleet, "broken-2",
                              (503, {"status": "degraded", "reason": "engine not loaded"}))
    assert result.returncode != 0
    assert handler.hits >= 2  # retried before giving up
    assert recap(result.stdout)["rescued"] == 1, result.stdout[-5000:]
    assert "rolled back to" in result.stdout
    assert (rootfs / "opt/salestag/releases/broken-2/bin/salestag-gateway").exists()
    assert _current(rootfs) == before  # the previous release runs again


def test_update_whose_gateway_tags_with_the_rules_alone_rolls_back(
        fleet: dict[str, Path]) -> None:
    """Healthy but without the semantic tagger (the text model failed to load) is a failed
    update: the fleet expects engine.tagger "semantic" in /healthz."""
    rootfs = fleet["rootfs"]
    before = _current(rootfs)
    result, handler = _update(fleet, "rules-only-3",
                              (200, {"status": "ok", "engine": {"tagger": "rules"}}))
    assert result.returncode != 0
    assert handler.hits >= 2
    assert recap(result.stdout)["rescued"] == 1, result.stdout[-5000:]
    assert "rolled back to" in result.stdout and "status ok, tagger rules" in result.stdout
    assert _current(rootfs) == before


def test_ansible_lint_is_clean() -> None:
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}", "NO_COLOR": "1"}
    result = subprocess.run([str(VENV_BIN / "ansible-lint"), "--offline"], cwd=ANSIBLE, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
