"""Helpers for the web UI tests: an app on a temp data directory, signed-in clients per role."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from gateway.accounts.setup_code import SetupCode
from gateway.accounts.users import Users
from gateway.config import Config, render_toml
from gateway.service import initialize
from gateway.store.db import open_db
from webui.app import create_app
from webui.context import WebContext
from webui.security import RateLimiter
from webui.ui import install_ui

PASSWORD = "correct horse battery staple"  # noqa: S105 - test accounts only
BASE = "https://localhost"


def make_config(tmp_path: Path) -> Config:
    config = Config()
    config.paths.data_dir = str(tmp_path / "data")
    config.web.login_max_failures = 3
    return config


def make_app(tmp_path: Path, config: Config | None = None) -> tuple[Flask, Config, Path]:
    """A web app over a fresh, initialized data directory; returns (app, config, config file)."""
    config = config or make_config(tmp_path)
    initialize(config)
    config_path = tmp_path / "gateway.toml"
    config_path.write_text(render_toml(config))  # the operator's file, which the UI never writes
    app = Flask("webui")
    install_ui(app, WebContext(config=config, config_path=config_path, issue_file=None))
    # each test app its own login rate limit (the process-wide one would count every test)
    app.extensions["salestag_login_limit"] = RateLimiter(limit=20, window_s=300)
    app.root_path = str(Path(create_app.__code__.co_filename).parent)
    app.template_folder = "templates"
    app.static_folder = "static"
    return app, config, config_path


def issue_code(config: Config) -> str:
    db = open_db(Path(config.data_dir) / "gateway.db")
    try:
        code = SetupCode(db, config.data_dir, None).issue(renew=True)
    finally:
        db.close()
    assert code
    return code


def add_user(config: Config, username: str, role: str) -> None:
    db = open_db(Path(config.data_dir) / "gateway.db")
    try:
        Users(db).create(username, PASSWORD, role)
        SetupCode(db, config.data_dir, None).consume()
    finally:
        db.close()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@dataclass
class Browser:
    """A test client that keeps cookies and sends the page's CSRF token like a browser."""

    client: FlaskClient

    def get(self, path: str, **kw: object):  # type: ignore[no-untyped-def]
        return self.client.get(path, base_url=BASE, **kw)

    def post(self, path: str, data: dict[str, str], *, from_page: str | None = None,
             csrf: bool = True, **kw: object):  # type: ignore[no-untyped-def]
        if csrf:
            page = self.get(from_page or path)
            data = {"csrf_token": csrf_of(page.get_data(as_text=True)), **data}
        return self.client.post(path, data=data, base_url=BASE,
                                headers={"Origin": BASE}, **kw)

    def login(self, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
        return self.post("/login", {"username": username, "password": password})


def seed_conversation(config: Config, conversation_id: str, lines: list[tuple[str, str]],
                      tags: list[tuple[str, int]]) -> None:
    """Store a transcribed conversation the way the worker does: (speaker, text) segments of
    3 s each, and (tag, segment index) tags, sealed with a data key from the key vault."""
    import time as _time

    from gateway.intel.types import Segment, Tag
    from gateway.privacy.context import open_privacy
    from gateway.service import Layout
    from gateway.store.conversations import Conversations

    layout = Layout(config.data_dir)
    ctx = open_privacy(config, keys_dir=layout.keys, kek_path=layout.kek,
                       signing_key=layout.signing_key, signing_public=layout.signing_public,
                       spool_dir=layout.spool)
    db = open_db(layout.db)
    try:
        key = ctx.vault.create(conversation_id)
        conversations = Conversations(db)
        conversations.create(id=conversation_id, badge_id="badge-7", rep_id="rep-ana",
                             site=config.site.id, started_at=_time.time() - 60, codec=0,
                             sample_rate=16000, channels=2, wrapped_key=b"")
        segments = [Segment(3.0 * i, 3.0 * i + 2.8, text, speaker)
                    for i, (speaker, text) in enumerate(lines)]
        conversations.save_transcript(
            conversation_id, key, segments=segments,
            tags=[Tag(tag, segments[i].start, segments[i].end, segments[i].text, 0.9)
                  for tag, i in tags],
            duration_s=3.0 * len(lines), speech_s=2.8 * len(lines))
    finally:
        db.close()
        ctx.close()
