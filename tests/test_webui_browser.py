"""The web UI in a real Chromium (Debian's) against the real gateway on 127.0.0.1 over HTTPS:
the whole setup wizard, pairing, a conversation streamed by the badge simulator appearing with
its tags, search, tag correction, deletion, audit verification, basic accessibility, and a
screenshot of every page in artifacts/webui/ (look at them)."""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import Broker, free_port, start_mosquitto, synthesize

from gateway.ingest.badge_sim import BadgeSimulator
from gateway.local_settings import effective_config
from gateway.speech.audio import load_audio

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "webui"
PASSWORD = "correct horse battery staple"  # noqa: S105 - test accounts only
LINES = [
    "Just so you know, this conversation is being recorded so I can follow up accurately.",
    "Honestly, that is way more than we can afford right now.",
    "Do you offer any financing options?",
    "I will email you the proposal tonight and call you on Thursday.",
]


class Gateway:
    """``salestag-gateway run`` (which starts the web UI) with its log."""

    def __init__(self, tmp: Path, broker: Broker, model: Path) -> None:
        self.port = free_port()
        self.upload_port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.data = tmp / "data"
        self.config = tmp / "gateway.toml"
        self.config.write_text(f"""
[site]
id = "store-42"
gateway_id = "gw-web"
[paths]
data_dir = "{self.data}"
[broker]
port = {broker.port}
[ingest]
session_timeout_s = 3
[speech]
model_path = "{model}"
threads = 2
workers = 1
[web]
port = {self.port}
[upload]
port = {self.upload_port}
workers = 1
""")
        self.log = tmp / "gateway.log"
        cmd = [sys.executable, "-m", "gateway", "--config", str(self.config)]
        subprocess.run([*cmd, "init"], check=True, capture_output=True)
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen([*cmd, "run"], stdout=sink, stderr=sink,
                                            env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def wait_ready(self) -> str:
        """The setup code the web UI printed, once /healthz answers."""
        context = ssl.create_default_context(cafile=str(self.data / "tls" / "ca.crt"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", context=context,  # noqa: S310
                                            timeout=2) as response:
                    json.load(response)
                match = re.search(r"setup code: ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})",
                                  self.log.read_text())
                if match:
                    return match.group(1)
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(self.log.read_text())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def gateway(tmp_path: Path, model_path: Path) -> Iterator[Gateway]:
    broker = start_mosquitto(tmp_path / "broker")
    gw = Gateway(tmp_path, broker, model_path)
    try:
        yield gw
    finally:
        gw.stop()
        broker.stop()


def shot(page: playwright_api.Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def check_accessible(page: playwright_api.Page) -> None:
    """Every form control has a label; the first Tab lands on the skip link; text contrast
    of body, links and primary buttons is at least 4.5:1."""
    unlabeled = page.evaluate("""() => [...document.querySelectorAll(
        'input:not([type=hidden]), select, textarea')].filter(el =>
        !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map(el => el.name)""")
    assert unlabeled == [], f"{page.url}: controls without a label: {unlabeled}"
    ratios = page.evaluate("""() => {
      const rgb = s => s.match(/[0-9.]+/g).slice(0, 3).map(Number);
      const lum = c => { const v = c.map(x => { x /= 255; return x <= 0.03928 ? x / 12.92
                         : Math.pow((x + 0.055) / 1.055, 2.4); });
                         return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
      const bg = el => { for (; el; el = el.parentElement) { const c = getComputedStyle(el)
                         .backgroundColor; if (!c.startsWith('rgba(0, 0, 0, 0)')) return rgb(c); }
                         return [255, 255, 255]; };
      const out = [];
      for (const sel of ['main p', 'main a', 'button.primary', 'main label', '.help', '.muted']) {
        const el = document.querySelector(sel); if (!el) continue;
        const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg(el));
        out.push([sel, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]);
      }
      return out; }""")
    for selector, ratio in ratios:
        assert ratio >= 4.5, f"{page.url}: {selector} contrast {ratio:.2f}"
    first = page.evaluate("""() => document.querySelector(
        'a[href], button, input:not([type=hidden]), select, textarea').className""")
    assert first == "skip", f"{page.url}: the skip link is not the first stop"
    page.focus(".skip")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("""() => document.activeElement.closest('main') !== null ||
        !document.querySelector('main a[href], main button, main input, main select')"""), page.url


def upload_server_status(gateway: Gateway) -> int:
    """What the service's upload server answers a request without a badge identity."""
    context = ssl.create_default_context(cafile=str(gateway.data / "tls" / "ca.crt"))
    context.check_hostname = False  # its certificate names the badges' broker address
    url = f"https://127.0.0.1:{gateway.upload_port}/api/v1/badges/b1/sessions/{'0' * 32}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, context=context, timeout=2):  # noqa: S310
                return 200
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_installer_manager_auditor_journey(gateway: Gateway, tmp_path: Path) -> None:
    code = gateway.wait_ready()
    assert upload_server_status(gateway) == 401  # the service runs the badges' upload API too
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            run_journey(browser, gateway, code, tmp_path)
        finally:
            browser.close()


def new_page(browser: playwright_api.Browser, **kw: object) -> playwright_api.Page:
    options: dict[str, object] = {"viewport": {"width": 1280, "height": 860}, **kw}
    context = browser.new_context(ignore_https_errors=True, accept_downloads=True,
                                  **options)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    return context.new_page()


def login(page: playwright_api.Page, url: str, user: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/$"))


def run_journey(browser: playwright_api.Browser, gw: Gateway, code: str, tmp: Path) -> None:
    url = gw.url
    page = new_page(browser)
    # -- the wizard ------------------------------------------------------------------------
    page.goto(url)
    page.wait_for_url(re.compile(r".*/setup/$"))
    check_accessible(page)
    shot(page, "01-setup-code")
    page.get_by_label("Setup code").fill(code.lower())
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("User name").fill("ingrid")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    check_accessible(page)
    shot(page, "02-setup-account")
    page.get_by_role("button", name="Create account and continue").click()
    page.wait_for_url(re.compile(r".*/setup/site$"))
    page.get_by_label("Name", exact=True).fill("Main Street")
    check_accessible(page)
    shot(page, "03-setup-site")
    page.get_by_role("button", name="Save and continue").click()
    steps = 0
    while "Finish setup" not in page.content():
        assert steps < 8
        shot(page, f"04-setup-{page.url.rsplit('/', 1)[1]}")
        check_accessible(page)
        page.get_by_role("button", name="Save and continue").click()
        page.wait_for_load_state()
        steps += 1
    shot(page, "05-setup-badge")
    page.get_by_role("button", name="Finish setup").click()
    page.wait_for_url(re.compile(r".*/\?notice=setup_done$"))
    assert "Main Street" in page.locator("header").inner_text()
    page.locator(".tile").first.wait_for()
    check_accessible(page)
    shot(page, "06-dashboard")
    assert effective_config(gw.config).site.name == "Main Street"  # kept on the gateway
    assert "Main Street" not in gw.config.read_text()  # the operator's file is not written

    # -- pairing ---------------------------------------------------------------------------
    page.get_by_role("link", name="Badges").click()
    page.get_by_label("Badge id").fill("badge-9")
    page.get_by_role("button", name="Pair").click()
    qr = page.get_by_role("img", name=re.compile("QR code"))
    qr.wait_for()
    assert page.evaluate("img => img.naturalWidth", qr.element_handle()) > 0
    shot(page, "07-badge-paired")
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile("Download the bundle")).click()
    bundle = tmp / "bundle.zip"
    download.value.save_as(bundle)
    names = zipfile.ZipFile(bundle).namelist()
    assert {"badge-9/badge.key", "badge-9/badge.crt", "badge-9/ca.crt"} <= set(names)
    assert page.goto(page.url).status == 410  # only once
    page.goto(f"{url}/badges/")
    check_accessible(page)
    shot(page, "08-badges")

    # -- people ----------------------------------------------------------------------------
    page.get_by_role("link", name="People").click()
    for name, role in (("mara", "Manager"), ("otto", "Auditor")):
        page.get_by_label("User name").fill(name)
        page.get_by_label(re.compile(f"^{role}")).check()
        page.get_by_label("First password").fill(PASSWORD)
        page.get_by_role("button", name="Add").click()
        page.wait_for_url(re.compile(r".*notice=user_added$"))
    check_accessible(page)
    shot(page, "09-people")
    page.goto(f"{url}/settings/")
    check_accessible(page)
    shot(page, "10-settings")
    assert page.goto(f"{url}/conversations/").status == 403

    # -- a conversation from the badge simulator ------------------------------------------
    pause = np.zeros(16000, dtype=np.float32)  # a second between lines, as people pause
    samples = np.concatenate([part for n, line in enumerate(LINES) for part in (
        load_audio(synthesize(line, tmp / f"line{n}.wav")).samples.astype(np.float32), pause)])
    badge = BadgeSimulator(host="127.0.0.1", port=int(re.search(
        r"port = (\d+)", gw.config.read_text()).group(1)), site="store-42", badge_id="badge-9")
    try:
        badge.wait_for_gateway(30)
        badge.stream(samples, rep_id="rep-ana", realtime=False)
    finally:
        badge.close()
    manager = new_page(browser)
    login(manager, url, "mara")
    manager.get_by_role("link", name="Conversations", exact=True).click()
    manager.get_by_role("cell", name="rep-ana").wait_for(timeout=60_000)  # live refresh
    deadline = time.monotonic() + 90
    while "done" not in (manager.locator("#rows").text_content() or ""):
        assert time.monotonic() < deadline, gw.log.read_text()[-3000:]
        manager.wait_for_timeout(1000)
    check_accessible(manager)
    shot(manager, "11-conversations")
    manager.locator("#rows a").first.click()
    chips = manager.locator(".tags .chip")
    chips.first.wait_for()
    tags = set(chips.all_inner_texts())
    assert {"consent.disclosure", "objection.price", "financing", "next_step"} <= tags, tags
    assert manager.locator("svg.timeline rect").count() > len(tags)
    check_accessible(manager)
    shot(manager, "12-conversation")
    conversation_url = manager.url.split("#")[0]

    # correct a tag
    item = manager.locator(".tags > li").filter(
        has=manager.locator(".chip", has_text="objection.price")).first
    item.locator("summary").click()
    item.get_by_label("Should be").select_option("objection.timing")
    item.get_by_role("button", name="Change").click()
    manager.wait_for_url(re.compile(r".*notice=tag_corrected"))
    assert "objection.timing" in manager.locator(".tags .chip").all_inner_texts()

    # search
    manager.get_by_role("link", name="Conversations", exact=True).click()
    manager.get_by_label("Search transcripts").fill("financing")
    manager.get_by_role("button", name="Search").click()
    assert manager.locator(".hits mark").first.inner_text().lower() == "financing"
    check_accessible(manager)
    shot(manager, "13-search")

    # privacy page and consent ledger
    manager.get_by_role("link", name="Privacy", exact=True).click()
    manager.get_by_label("Conversation id").fill(conversation_url.rsplit("/", 1)[1])
    manager.get_by_role("button", name="Find").click()
    manager.wait_for_load_state()
    shot(manager, "14-privacy-find")
    assert "1 conversation found" in manager.locator("main").inner_text(), \
        manager.locator("main").inner_text()
    check_accessible(manager)
    shot(manager, "14-privacy-find")

    # delete, with confirmation
    manager.goto(conversation_url)
    manager.get_by_role("link", name=re.compile("Delete this conversation")).click()
    manager.get_by_label("Type DELETE to confirm").fill("DELETE")
    shot(manager, "15-delete-confirm")
    manager.get_by_role("button", name="Delete for good").click()
    manager.wait_for_url(re.compile(r".*notice=deleted"))
    manager.get_by_label("Search transcripts").fill("financing")
    manager.get_by_role("button", name="Search").click()
    manager.get_by_text("0 results").wait_for()
    manager.goto(conversation_url)
    assert "was deleted" in manager.content()
    manager.context.close()

    # -- the auditor -----------------------------------------------------------------------
    auditor = new_page(browser)
    login(auditor, url, "otto")
    auditor.get_by_role("link", name="Audit").click()
    auditor.get_by_role("button", name="Verify the chain").click()
    result = auditor.locator("#verify-result")
    assert "Verified" in result.inner_text(), result.inner_text()
    assert "conversation.delete" in auditor.locator("table.audit").inner_text()
    check_accessible(auditor)
    shot(auditor, "16-audit-verified")
    auditor.get_by_role("link", name="Consent").click()
    auditor.locator("main table a").first.click()
    shot(auditor, "17-consent-ledger")
    assert "financing" not in auditor.content()
    auditor.context.close()

    # -- a phone ---------------------------------------------------------------------------
    phone = new_page(browser, viewport={"width": 390, "height": 844}, is_mobile=True,
                     has_touch=True)
    login(phone, url, "ingrid")
    phone.locator(".tile").first.wait_for()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the dashboard scrolls sideways on a phone ({width} px)"
    shot(phone, "18-dashboard-phone")
    phone.context.close()
    page.context.close()
