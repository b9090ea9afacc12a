"""The smart trackers page: a manager trains a tracker from examples, previews it on recent
segments (an audited read), saves it; other roles may not. Then the same in a real Chromium
against ``salestag-gateway web`` over HTTPS, with a screenshot in artifacts/webui/."""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from webui_support import PASSWORD, Browser, add_user, make_app, seed_conversation

from gateway.config import Config, render_toml
from gateway.local_settings import read_local
from gateway.store.audit import AuditLog
from gateway.store.db import open_db

EXAMPLES = "\n".join([
    "What does the warranty cover?",
    "Is labor included if something breaks?",
    "How long are the panels guaranteed?",
    "Who pays if the inverter fails?",
    "Do you stand behind your work if it leaks?",
])
LINES = [
    ("rep", "Hi, thanks for having me over today."),
    ("customer", "What happens if a panel cracks after a few years?"),
    ("customer", "The kids are at soccer practice until six."),
    ("rep", "We can start the install in two weeks."),
]


def prepared(tmp_path: Path, text_models: Path) -> tuple[Browser, Config]:
    app, config, _ = make_app(tmp_path)
    shutil.copytree(text_models, config.data_dir / "models")  # as models install left it
    for name, role in (("mara", "manager"), ("ian", "installer"), ("aud", "auditor")):
        add_user(config, name, role)
    seed_conversation(config, "conv-1", LINES, [])
    return Browser(app.test_client()), config


def test_a_manager_previews_and_saves_a_smart_tracker(tmp_path: Path, text_models: Path) -> None:
    browser, config = prepared(tmp_path, text_models)
    browser.login("mara")
    form = {"label": "warranty", "speaker": "customer", "examples": EXAMPLES}
    page = browser.post("/trackers/preview", form, from_page="/trackers/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html
    rows = re.findall(r"<tr( class=\"match\")?><td>(yes|no)</td>.*?<a [^>]*>([^<]*)</a>", html,
                      re.S)
    assert rows[0][1:] == ("yes", "What happens if a panel cracks after a few years?")
    assert [r[1] for r in rows[1:]] == ["no"] * (len(LINES) - 1)
    db = open_db(Path(config.data_dir) / "gateway.db")
    reads = [e for e in AuditLog(db).entries() if e.action == "conversation.read"]
    db.close()
    assert [(e.actor, e.object, e.detail["purpose"]) for e in reads] == [
        ("user:mara", "conversation:conv-1", "tracker-preview")]
    saved = browser.post("/trackers/save", form, from_page="/trackers/")
    assert saved.status_code == 302
    trackers = read_local(config.data_dir)["tagger.trackers"]
    assert trackers == ["warranty @customer ~ " + " | ".join(EXAMPLES.splitlines())]


def test_too_few_examples_are_refused_with_a_reason(tmp_path: Path, text_models: Path) -> None:
    browser, _ = prepared(tmp_path, text_models)
    browser.login("mara")
    page = browser.post("/trackers/preview", {"label": "warranty", "examples": "one\ntwo"},
                        from_page="/trackers/")
    assert page.status_code == 400
    assert "has 2 example sentences; give 5 to 20" in page.get_data(as_text=True)


#: A web UI process of its own: a manager previews a tracker; it prints the page's status, the
#: first row's match and whether the text model's packages were ever imported in that process.
PREVIEW_IN_A_FRESH_PROCESS = """
import json, re, sys
from pathlib import Path
from test_trackers_web import EXAMPLES, prepared
browser, _ = prepared(Path(sys.argv[1]), Path(sys.argv[2]))
browser.login("mara")
page = browser.post("/trackers/preview", {"label": "warranty", "speaker": "customer",
                                          "examples": EXAMPLES}, from_page="/trackers/")
html = page.get_data(as_text=True)
print(json.dumps({"status": page.status_code,
                  "matched": re.findall(r'<tr class="match"><td>yes</td>.*?<a [^>]*>([^<]*)</a>',
                                        html, re.S),
                  "loaded": sorted(m for m in ("onnxruntime", "tokenizers") if m in sys.modules)}))
"""


def test_the_web_process_never_holds_the_text_model(tmp_path: Path, text_models: Path) -> None:
    """The preview is scored in a short-lived child: the web UI's process stays without
    onnxruntime and tokenizers (about 70 MB for good after one preview otherwise)."""
    tests = Path(__file__).parent
    done = subprocess.run([sys.executable, "-c", PREVIEW_IN_A_FRESH_PROCESS, str(tmp_path),
                           str(text_models)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": f"{tests.parent}:{tests}"},
                          check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"status": 200, "loaded": [],
                      "matched": ["What happens if a panel cracks after a few years?"]}


@pytest.mark.parametrize("user", ["ian", "aud"])
def test_roles_that_never_read_conversations_may_not_train_trackers(
    tmp_path: Path, text_models: Path, user: str
) -> None:
    browser, _ = prepared(tmp_path, text_models)
    browser.login(user)
    assert browser.get("/trackers/").status_code == 403


# --- in a real browser -----------------------------------------------------------------------


def test_the_trackers_page_in_chromium(tmp_path: Path, text_models: Path) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    from conftest import free_port
    from test_webui_browser import ARGS, CHROMIUM, SHOTS

    _, config = prepared(tmp_path, text_models)
    config.web.port = free_port()
    config_file = tmp_path / "web.toml"
    config_file.write_text(render_toml(config))
    log = tmp_path / "web.log"
    with log.open("wb") as sink:
        web = subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(config_file),
                                "web"], stdout=sink, stderr=sink,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"https://127.0.0.1:{config.web.port}"
    try:
        wait_for(url, Path(config.data_dir) / "tls" / "ca.crt", web, log)
        with playwright_api.sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = chromium.new_context(ignore_https_errors=True,
                                        viewport={"width": 1280, "height": 900}).new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{url}/login")
            page.get_by_label("User name").fill("mara")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("link", name="Trackers", exact=True).click()
            page.get_by_label("Label").fill("warranty")
            page.get_by_label("The customer").check()
            page.get_by_label(re.compile("Example sentences")).fill(EXAMPLES)
            page.get_by_role("button", name="Preview on recent conversations").click()
            first = page.locator("tr.match").first
            first.wait_for()
            assert "panel cracks" in first.inner_text()
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "20-trackers-preview.png"), full_page=True)
            page.get_by_role("button", name="Save tracker").click()
            page.wait_for_url(re.compile(r".*notice=tracker_saved"))
            assert "warranty @customer ~" in page.locator("ul.trackers").inner_text()
            page.screenshot(path=str(SHOTS / "21-trackers-saved.png"), full_page=True)
            chromium.close()
    finally:
        web.terminate()
        web.wait(timeout=20)


def wait_for(url: str, ca: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until the web UI answers /healthz over HTTPS (or its process died)."""
    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"{url}/healthz", context=context,  # noqa: S310
                                        timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(log.read_text())
