"""``svctl web`` as a person meets it: the real command against a real daemon, its page driven
by a real headless Chromium (Debian's ``chromium`` and ``chromium-driver``, through selenium),
and plain HTTP for what it must refuse.

One daemon, one ``svctl web`` and one browser session serve the whole module. Waits in the
browser are a MutationObserver in the page (woken by the change itself), bounded by selenium's
script timeout.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import pytest

from svctl import Client
from tests.daemon_harness import (
    TOKEN_VAR,
    Daemon,
    kill_by_token,
    start_daemon,
    stop_daemon,
    svctl_command,
    write_config,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from selenium.webdriver.remote.webdriver import WebDriver

PROGRAMS = """\
[programs.web]
command = ["sleep", "3600"]
start_seconds = 0.2

[programs.worker]
command = ["sleep", "3600"]
start_seconds = 0.2

[programs.crasher]
command = ["sh", "-c", "echo oops >&2; exit 3"]
autorestart = "never"
start_seconds = 0

[programs.idle]
command = ["sleep", "3600"]
autostart = false
"""
NAMES = ["web", "worker", "crasher", "idle"]

# One worker runs them all, so they share one daemon, one svctl web and one browser.
pytestmark = pytest.mark.xdist_group("web")

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


@dataclass
class Web:
    """A running ``svctl web``: the URL it printed (with the token) and its daemon."""

    url: str
    base: str
    token: str
    daemon: Daemon


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    daemon = start_daemon(write_config(tmp_path_factory.mktemp("web"), PROGRAMS))
    process: subprocess.Popen[str] | None = None
    try:
        with Client(daemon.socket, timeout=20) as client:
            client.wait("web", "worker", state="RUNNING", timeout=20)
        argv, env = svctl_command(daemon, "web", "--listen", "127.0.0.1:0")
        process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert process.stdout is not None
        url = ""
        while not url.startswith("http://"):
            url = process.stdout.readline().strip()
            if not url and process.poll() is not None:
                raise AssertionError(f"svctl web exited: {process.stderr.read()}")  # type: ignore[union-attr]
        match = re.fullmatch(r"(http://127\.0\.0\.1:\d+)/\?token=([\w-]+)", url)
        assert match, url
        yield Web(url=url, base=match[1], token=match[2], daemon=daemon)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, process.stderr.read()  # type: ignore[union-attr]
    finally:
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()
        stop_daemon(daemon)


def _state(web: Web, name: str) -> str:
    with Client(web.daemon.socket) as client:
        [program] = client.status(name)
    return program.state.value


def test_a_request_without_the_token_is_refused(web: Web) -> None:
    with httpx.Client(base_url=web.base) as http:
        assert http.get("/").status_code == 401
        assert http.get("/events").status_code == 401
        assert http.post("/programs/web/stop").status_code == 401
        assert http.get("/", params={"token": "not-the-token"}).status_code == 403
        bearer = {"authorization": "Bearer not-the-token"}
        assert http.get("/programs/web/history", headers=bearer).status_code == 403
        assert "token" in http.get("/").text
    assert _state(web, "web") == "RUNNING"


def test_the_token_becomes_a_strict_httponly_cookie_and_leaves_the_url(web: Web) -> None:
    with httpx.Client(base_url=web.base) as http:
        exchange = http.get(web.url)
        assert exchange.status_code == 303
        assert exchange.headers["location"] == "/"
        cookie = exchange.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        page = http.get("/")
        assert page.status_code == 200
        assert re.search(r'name="csrf-token" content="[0-9a-f]{64}"', page.text)
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    with httpx.Client() as fresh:  # no session yet
        elsewhere = fresh.get(f"{web.base}//evil.example/", params={"token": web.token})
    assert elsewhere.headers["location"] == "/evil.example/"


def test_a_post_needs_the_pages_origin_and_its_csrf_token(web: Web) -> None:
    with httpx.Client(base_url=web.base) as http:
        http.get(web.url)
        match = re.search(r'name="csrf-token" content="(\w+)"', http.get("/").text)
        assert match
        csrf = {"x-csrf-token": match[1]}
        own = {"origin": web.base}
        refused = [
            http.post("/programs/web/stop", headers=own),  # no CSRF token
            http.post("/programs/web/stop", headers={**own, "x-csrf-token": "0" * 64}),
            http.post("/programs/web/stop", headers=csrf),  # no Origin
            http.post("/programs/web/stop", headers={**csrf, "origin": "http://evil.example"}),
            # A page of another site whose name was rebound to 127.0.0.1:
            http.post(
                "/programs/web/stop",
                headers={**csrf, "origin": "http://evil.example", "host": "evil.example"},
            ),
        ]
        assert [r.status_code for r in refused] == [403] * len(refused)
        assert _state(web, "web") == "RUNNING"
        assert http.get("/programs/web/stop").status_code == 405  # never by GET
        allowed = http.post("/programs/web/start", headers={**csrf, **own})
        assert allowed.status_code == 200, allowed.text
        assert allowed.json()[0]["ok"] is True
        missing = http.post("/programs/nope/start", headers={**csrf, **own})
        assert missing.status_code == 404
        assert "no program named 'nope'" in missing.text


def test_an_address_other_machines_reach_needs_allow_remote(
    web: Web, capsys: pytest.CaptureFixture[str]
) -> None:
    from svctl.cli import main

    assert main(["--socket", web.daemon.socket, "web", "--listen", "0.0.0.0:9106"]) == 2
    assert "give --allow-remote" in capsys.readouterr().err


# Resolves (with true) once ``selector`` matches an element whose ``attribute`` is ``value``
# (or, without an attribute, once it matches at all): checked on every change of the page.
_WAIT_FOR = """
const [selector, attribute, value, done] = arguments;
const found = () => {
  const node = document.querySelector(selector);
  return node !== null && (attribute === null || node.getAttribute(attribute) === value);
};
if (found()) { done(true); return; }
const observer = new MutationObserver(() => {
  if (found()) { observer.disconnect(); done(true); }
});
observer.observe(document.documentElement, {subtree: true, childList: true, attributes: true});
"""


def _wait_for(
    driver: WebDriver, selector: str, attribute: str | None = None, value: str | None = None
) -> None:
    assert driver.execute_async_script(_WAIT_FOR, selector, attribute, value) is True


@contextlib.contextmanager
def _chromium(folder: Path) -> Iterator[WebDriver]:
    """A headless Chromium session; every process it started is gone afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for argument in (
        "--headless=new",
        "--no-sandbox",  # as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1200,560",
        f"--user-data-dir={folder}",
    ):
        options.add_argument(argument)
    token = uuid.uuid4().hex
    service = Service(CHROMEDRIVER, env={**os.environ, TOKEN_VAR: token})
    try:
        driver = webdriver.Chrome(service=service, options=options)
        try:
            driver.set_script_timeout(20)
            driver.set_page_load_timeout(20)
            yield driver
        finally:
            driver.quit()
    finally:
        kill_by_token(token)


@pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)
def test_the_page_shows_every_program_and_its_stop_button_stops_one(
    web: Web, tmp_path: Path
) -> None:
    with _chromium(tmp_path / "chromium") as driver:
        driver.get(web.url)
        assert driver.current_url == f"{web.base}/"  # the token is gone from the address bar
        cookie = driver.get_cookies()[0]
        assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Strict")
        for name in NAMES:
            _wait_for(driver, f'tr[data-program="{name}"]')
        rows = driver.find_elements("css selector", "#programs tbody tr")
        assert [row.get_attribute("data-program") for row in rows] == NAMES
        _wait_for(driver, 'tr[data-program="worker"]', "data-state", "RUNNING")

        driver.execute_script("window.notReloaded = true;")
        driver.find_element(
            "css selector", 'tr[data-program="worker"] [data-action="stop"]'
        ).click()
        _wait_for(driver, 'tr[data-program="worker"]', "data-state", "STOPPED")
        assert driver.execute_script("return window.notReloaded;") is True
        state = driver.find_element("css selector", 'tr[data-program="worker"] td.state')
        assert state.text == "STOPPED"
        assert _state(web, "worker") == "STOPPED"
        driver.save_screenshot(str(tmp_path / "web.png"))
