"""examples/main.py's dashboard (examples/web) in a real browser: headless Chromium (Debian's
chromium and chromium-driver, driven by selenium) loads the page from the built binary and the
test asserts on the live DOM: values pushed over Server-Sent Events, and a message typed in one
page that goes to Mosquitto and comes back, through the MQTT -> WebSocket bridge, to every open
page. A screenshot is kept in build/test-artifacts/dashboard.png."""

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from support.runner import MICROPYTHON, NO_PROXY_ENV, ROOT, free_port, port_accepts

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = ROOT / "build" / "test-artifacts"

pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="chromium and chromium-driver are not installed (scripts/install-deps.sh)")


@pytest.fixture
def dashboard(broker, tmp_path):
    port = free_port()
    env = dict(NO_PROXY_ENV, MQTT_URL=broker.url, LISTEN_URL=f"http://127.0.0.1:{port}")
    log = open(tmp_path / "example.out", "wb")
    proc = subprocess.Popen([str(MICROPYTHON), str(ROOT / "examples" / "main.py")], env=env, stdout=log,
                            stderr=subprocess.STDOUT, cwd=str(tmp_path))
    deadline = time.monotonic() + 10
    while not port_accepts(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/", (tmp_path / "example.out")
    proc.terminate()
    proc.wait(5)
    log.close()


@pytest.fixture
def browser():
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-proxy-server", "--window-size=900,900"):
        options.add_argument(argument)
    # An explicit driver: selenium's own driver manager never runs (it would go to the network).
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def text_of(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def messages(driver):
    return [item.text for item in driver.find_elements(By.CSS_SELECTOR, "#messages li")]


def test_the_dashboard_shows_pushed_values_and_bridges_mqtt_to_every_page(dashboard, browser):
    url, log = dashboard
    browser.get(url)
    assert browser.title == "pythongoose dashboard"
    wait = WebDriverWait(browser, 15, poll_frequency=0.1)
    # Live values over SSE: a number that moves on, and the MQTT state.
    wait.until(lambda d: text_of(d, "uptime").isdigit(), "no uptime pushed: " + log.read_text())
    first = int(text_of(browser, "uptime"))
    wait.until(lambda d: text_of(d, "uptime").isdigit() and int(text_of(d, "uptime")) > first)
    wait.until(lambda d: text_of(d, "mqtt") == "connected", "MQTT not connected: " + log.read_text())
    assert 19.0 <= float(text_of(browser, "temperature")) <= 23.0

    # A second page, then a message from the first: both show it once it came back from MQTT.
    first_page = browser.current_window_handle
    wait.until(lambda d: text_of(d, "socket") == "connected")
    browser.switch_to.new_window("tab")
    browser.get(url)
    wait.until(lambda d: text_of(d, "socket") == "connected")
    second_page = browser.current_window_handle
    browser.switch_to.window(first_page)
    box = browser.find_element(By.ID, "text")
    box.send_keys("hello from the browser <b>")
    browser.find_element(By.CSS_SELECTOR, "#send button").click()
    wait.until(lambda d: "hello from the browser <b>" in messages(d), "no round trip: " + log.read_text())
    browser.switch_to.window(second_page)
    wait.until(lambda d: "hello from the browser <b>" in messages(d))
    assert browser.find_elements(By.CSS_SELECTOR, "#messages li b") == []  # text, never markup

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.switch_to.window(first_page)
    assert browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))


def test_the_dashboard_files_come_with_their_types(dashboard, http):
    url, _ = dashboard
    page = http.get(url, timeout=10)
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert http.get(url + "style.css", timeout=10).headers["Content-Type"] == "text/css; charset=utf-8"
    assert http.get(url + "app.js", timeout=10).headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert Path(ROOT / "examples" / "web" / "app.js").read_text() == http.get(url + "app.js", timeout=10).text
