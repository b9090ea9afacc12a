"""Web UI security: setup code, CSRF, lockout, roles on every page, no transcript leaks,
cookie flags, validated and audited settings, /healthz and /metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from webui_support import (
    BASE,
    PASSWORD,
    Browser,
    add_user,
    csrf_of,
    issue_code,
    make_app,
    seed_conversation,
)

from gateway.accounts.passwords import DUMMY_HASH, needs_rehash, verify_password
from gateway.cli import main as cli_main
from gateway.config import Config, load_config
from gateway.health import StatusBoard, status_path
from gateway.local_settings import effective_config, local_path
from gateway.store.audit import AuditLog
from gateway.store.db import open_db

SECRET_WORDS = "zanzibar quokka"  # noqa: S105 - words only ever in the transcript
LINES = [("rep", "Hello, this call is recorded for training."),
         ("customer", f"Honestly the price is too high, said the {SECRET_WORDS} buyer."),
         ("rep", "We can spread it over twelve months with financing."),
         ("customer", "Let's meet next Tuesday to sign.")]
NEW = {"password": "a new long passphrase", "confirm": "a new long passphrase"}
TAGS = [("consent.disclosure", 0), ("objection.price", 1), ("financing", 2), ("next_step", 3)]


@pytest.fixture
def site(tmp_path: Path) -> tuple[Flask, Config, Path]:
    app, config, config_path = make_app(tmp_path)
    return app, config, config_path


@pytest.fixture
def staffed(site: tuple[Flask, Config, Path]) -> tuple[Flask, Config, Path]:
    app, config, _ = site
    for name, role in (("ingrid", "installer"), ("mara", "manager"), ("otto", "auditor")):
        add_user(config, name, role)
    seed_conversation(config, "c0ffee01", LINES, TAGS)
    return site


def browser(app: Flask, user: str | None = None) -> Browser:
    b = Browser(app.test_client())
    if user:
        assert b.login(user).status_code == 302
    return b


def audit_actions(config: Config) -> list[str]:
    db = open_db(Path(config.data_dir) / "gateway.db")
    try:
        return [e.action for e in AuditLog(db).entries()]
    finally:
        db.close()


def audit_actors(config: Config) -> list[tuple[str, str]]:
    db = open_db(Path(config.data_dir) / "gateway.db")
    try:
        return [(e.actor, e.action) for e in AuditLog(db).entries()]
    finally:
        db.close()


def test_setup_code_unlocks_the_wizard_once(site: tuple[Flask, Config, Path]) -> None:
    app, config, _ = site
    b = browser(app)
    assert b.get("/").headers["Location"].startswith("/login")
    assert b.get("/login").headers["Location"] == "/setup/"
    code = issue_code(config)
    assert b.post("/setup/", {"code": "AAAA-BBBB-CCCC"}).status_code == 403
    assert b.get("/setup/account").status_code == 403
    assert b.post("/setup/", {"code": code.lower().replace("-", " ")}).status_code == 302
    weak = b.post("/setup/account", {"username": "ingrid", "password": "short",
                                     "confirm": "short"})
    assert weak.status_code == 400 and "12 characters" in weak.get_data(as_text=True)
    made = b.post("/setup/account", {"username": "ingrid", "password": PASSWORD,
                                     "confirm": PASSWORD})
    assert made.headers["Location"] == "/setup/site"
    assert b.get("/setup/site").status_code == 200
    other = browser(app)
    assert other.post("/setup/", {"code": code}, from_page="/login").status_code == 403
    assert (Path(config.data_dir) / "setup-done").exists()
    assert not (Path(config.data_dir) / "setup-code.json").exists()
    assert "setup.admin_created" in audit_actions(config)


def test_an_unknown_name_costs_a_login_what_a_known_one_does() -> None:
    """The hash verified for a user that does not exist has the hasher's own parameters."""
    assert not needs_rehash(DUMMY_HASH)
    assert not verify_password(DUMMY_HASH, PASSWORD)


def test_csrf_is_refused(staffed: tuple[Flask, Config, Path]) -> None:
    app, _, _ = staffed
    b = browser(app)
    no_token = b.post("/login", {"username": "mara", "password": PASSWORD}, csrf=False)
    assert no_token.status_code == 400
    b = browser(app, "mara")
    page = b.get("/settings/password").get_data(as_text=True)
    token = csrf_of(page)
    forged = b.client.post("/settings/password", base_url=BASE, headers={"Origin": BASE},
                           data={"csrf_token": ("y" if token[0] == "x" else "x") + token[1:],
                                 "current": PASSWORD, **NEW})
    assert forged.status_code == 400, forged.headers.get("Location")
    cross = b.client.post("/settings/password", base_url=BASE,
                          headers={"Origin": "https://evil.example"},
                          data={"csrf_token": csrf_of(page), "current": PASSWORD,
                                **NEW})
    assert cross.status_code == 403
    # another person's valid token does not work in this session either
    other = browser(app, "otto").get("/settings/password").get_data(as_text=True)
    swapped = b.client.post("/logout", base_url=BASE, headers={"Origin": BASE},
                            data={"csrf_token": csrf_of(other)})
    assert swapped.status_code == 400


def test_lockout_after_repeated_failures_and_reset(staffed: tuple[Flask, Config, Path],
                                                   tmp_path: Path) -> None:
    app, config, config_path = staffed
    b = browser(app)
    for _ in range(2):
        assert b.login("mara", "wrong password!!").status_code == 401
    assert b.login("mara", "wrong password!!").status_code == 403  # third: locked
    locked = b.login("mara")  # even the right password
    assert locked.status_code == 403 and "locked" in locked.get_data(as_text=True)
    new_password = tmp_path / "pw"
    new_password.write_text("a different long passphrase\n")
    assert cli_main(["--config", str(config_path), "user", "reset-password", "mara",
                     "--password-file", str(new_password), "--actor", "cli:ops"]) == 0
    assert b.login("mara", "a different long passphrase").status_code == 302
    actions = audit_actions(config)
    assert actions.count("auth.login_failed") == 2 and "auth.login_locked" in actions
    assert "user.password_reset" in actions
    assert ("cli:ops", "user.password_reset") in audit_actors(config)


def test_login_rate_limit_per_client(staffed: tuple[Flask, Config, Path]) -> None:
    app, _, _ = staffed
    from webui.security import RateLimiter

    app.extensions["salestag_login_limit"] = RateLimiter(limit=3, window_s=300)
    b = browser(app)
    codes = [b.login("nobody", "wrong password!!").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


PAGES = {  # path -> roles that may see it
    "/": {"installer", "manager", "auditor"},
    "/dashboard/panel": {"installer", "manager", "auditor"},
    "/badges/": {"installer", "manager"},
    "/settings/": {"installer"},
    "/settings/users": {"installer"},
    "/conversations/": {"manager"},
    "/conversations/panel": {"manager"},
    "/trackers/": {"manager"},
    "/conversations/?q=price": {"manager"},
    "/conversations/c0ffee01": {"manager"},
    "/conversations/c0ffee01/delete": {"manager"},
    "/privacy/": {"manager"},
    "/privacy/consent": {"manager", "auditor"},
    "/privacy/consent/c0ffee01": {"manager", "auditor"},
    "/audit/": {"auditor"},
    "/settings/password": {"installer", "manager", "auditor"},
}


def test_every_page_requires_the_right_role(staffed: tuple[Flask, Config, Path]) -> None:
    app, _, _ = staffed
    rules = {r.rule for r in app.url_map.iter_rules() if "GET" in (r.methods or set())}
    anonymous = browser(app)
    for path in PAGES:
        assert anonymous.get(path).headers.get("Location", "").startswith("/login"), path
    for user, role in (("ingrid", "installer"), ("mara", "manager"), ("otto", "auditor")):
        b = browser(app, user)
        for path, roles in PAGES.items():
            expected = 200 if role in roles else 403
            assert b.get(path).status_code == expected, (role, path)
    open_rules = {"/login", "/setup/", "/healthz", "/metrics", "/static/<path:filename>"}
    covered = {p.split("?")[0].replace("c0ffee01", "<conversation_id>") for p in PAGES}
    for rule in rules - open_rules - covered:
        # the remaining pages take ids from a flow (setup steps, pairing tokens)
        assert rule.startswith(("/setup/", "/badges/paired/")), rule
    for b in (browser(app, "mara"), browser(app, "otto")):
        assert b.post("/settings/site", {"site.name": "x"}, from_page="/").status_code == 403


def test_no_page_leaks_transcript_text_to_other_roles(staffed: tuple[Flask, Config, Path]
                                                       ) -> None:
    app, config, _ = staffed
    manager = browser(app, "mara")
    assert SECRET_WORDS in manager.get("/conversations/c0ffee01").get_data(as_text=True)
    assert "zanzibar" in manager.get("/conversations/?q=zanzibar").get_data(as_text=True)
    for user in ("ingrid", "otto"):
        b = browser(app, user)
        for path in [*PAGES, "/metrics", "/healthz"]:
            body = b.get(path).get_data(as_text=True)
            assert "zanzibar" not in body and "quokka" not in body, (user, path)
            assert "too high" not in body, (user, path)
    db_text = (Path(config.data_dir) / "gateway.db").read_bytes()
    assert b"zanzibar" not in db_text  # neither the search nor the audit log wrote words
    assert {"conversation.read", "conversation.search"} <= set(audit_actions(config))


def test_session_cookie_flags_and_logout(staffed: tuple[Flask, Config, Path]) -> None:
    app, _, _ = staffed
    b = browser(app)
    response = b.login("mara")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-salestag=")
    for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
        assert flag in cookie
    assert b.get("/conversations/").status_code == 200
    stolen = b.client.get_cookie("__Host-salestag", domain="localhost")
    assert stolen is not None
    assert b.post("/logout", {}, from_page="/").status_code == 302
    replay = Browser(app.test_client())
    replay.client.set_cookie("__Host-salestag", stolen.value, domain="localhost")
    assert replay.get("/conversations/").status_code == 302  # the session ended server-side
    headers = b.get("/login").headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_settings_are_validated_applied_and_audited(staffed: tuple[Flask, Config, Path]
                                                     ) -> None:
    app, config, config_path = staffed
    b = browser(app, "ingrid")
    page = b.get("/settings/").get_data(as_text=True)
    assert 'max="3650"' in page and "Days to keep encrypted raw audio" in page
    bad = b.post("/settings/retention", {"retention.raw_audio_days": "99999"},
                 from_page="/settings/")
    assert bad.status_code == 400 and "above the maximum" in bad.get_data(as_text=True)
    assert not local_path(config.data_dir).exists()
    original = config_path.read_text()
    good = b.post("/settings/site", {"site.id": "store-042", "site.gateway_id": "gw-042",
                                     "site.name": "Main Street"}, from_page="/settings/")
    assert good.status_code == 302
    saved = effective_config(config_path)
    assert saved.site.name == "Main Street" and saved.site.id == "store-042"
    assert saved.paths.data_dir == config.paths.data_dir
    assert config_path.read_text() == original  # kept on the gateway, not in the fleet's file
    assert "config.change" in audit_actions(config)
    assert "Main Street" in b.get("/").get_data(as_text=True)
    page = b.get("/settings/").get_data(as_text=True)
    assert "Set on this gateway: Id, Gateway id, Name." in page
    # the operator's file changes underneath: a key not set here follows it at the next request
    config_path.write_text(original.replace("raw_audio_days = 0", "raw_audio_days = 3"))
    assert 'value="3"' in b.get("/settings/").get_data(as_text=True)
    reverted = b.post("/settings/site/revert", {}, from_page="/settings/")
    assert reverted.status_code == 302
    assert effective_config(config_path).site.name == load_config(config_path).site.name
    assert "Main Street" not in b.get("/").get_data(as_text=True)
    assert audit_actions(config).count("config.change") == 6


def test_healthz_and_metrics(staffed: tuple[Flask, Config, Path]) -> None:
    app, config, _ = staffed
    b = browser(app)
    health = b.get("/healthz").get_json()
    assert health["status"] == "degraded"  # no service is running in this test
    assert "the gateway service is not running" in health["reasons"]
    assert health["engine"] == {}
    metrics = b.get("/metrics")
    assert metrics.mimetype == "text/plain"
    text = metrics.get_data(as_text=True)
    assert "# TYPE salestag_up gauge" in text and "salestag_up 0" in text
    assert 'salestag_jobs{state="queued"} 0' in text
    # the service's status snapshot names its engine and tagger; the fleet's update checks it
    board = StatusBoard()
    board.provide("engine", lambda: {"engine": "whispercpp", "threads": 2,
                                     "model": "tiny.en q8_0", "tagger": "semantic"})
    board.write(status_path(config.data_dir))
    health = b.get("/healthz").get_json()
    assert health["service_running"] is True
    assert health["engine"]["tagger"] == "semantic"
    assert health["engine"]["model"] == "tiny.en q8_0"


def test_console_account_commands_are_audited_under_their_actor(
        site: tuple[Flask, Config, Path], tmp_path: Path) -> None:
    _, config, config_path = site
    password = tmp_path / "pw"
    password.write_text("a long enough console passphrase\n")
    assert cli_main(["--config", str(config_path), "user", "add", "noor", "--role", "auditor",
                     "--password-file", str(password), "--actor", "cli:installer-kim"]) == 0
    assert ("cli:installer-kim", "user.create") in audit_actors(config)
