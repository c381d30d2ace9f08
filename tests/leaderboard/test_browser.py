"""The built site in a real headless Chromium: it renders, sorts, shows its plot, and stays on localhost.

Needs Debian's `chromium` and `chromium-driver` packages and the `selenium` wheel; without them
these tests fail (not skip) and say how to install them.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest

from fvqa.leaderboard import build_site
from tests.leaderboard.factory import OTHER_JUDGE, default_samples, make_result, write_run

CHROMIUM = ("/usr/bin/chromium", "chromium", "chromium-browser")
CHROMEDRIVER = ("/usr/bin/chromedriver", "chromedriver")
INSTALL = (
    "the leaderboard browser tests need a headless Chromium and its WebDriver: "
    "`sudo apt-get install chromium chromium-driver` (Debian/Ubuntu) and `pip install selenium`"
)
MODELS = [  # model id, accuracy, search ratio; n=1000 keeps the CIs narrow enough for three tiers
    ("openai/gpt-4o", 0.61, 0.55),
    ("mmsearch-r1/MMSearch-R1-7B", 0.59, 0.32),
    ("Qwen/Qwen2.5-VL-7B-Instruct", 0.50, 0.71),
    ("google/gemma-3-4b-it", 0.38, 0.12),
    ("<script>alert(1)</script>", 0.30, 0.90),
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def _find(candidates: tuple[str, ...]) -> str:
    for name in candidates:
        if found := shutil.which(name):
            return found
    pytest.fail(f"{candidates[-1]} not found: {INSTALL}")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def served_site(tmp_path_factory) -> Iterator[str]:
    """The site of five comparable runs and one from another judge, served on 127.0.0.1."""
    root = tmp_path_factory.mktemp("browser")
    for index, (model, accuracy, ratio) in enumerate(MODELS):
        result = make_result(model, accuracy=accuracy, search_ratio=ratio, n=1000, started=f"2025-06-0{index + 1}")
        write_run(root / "results" / f"run{index}", result, default_samples() if index % 2 else None)
    write_run(root / "results" / "other", make_result("acme/other", accuracy=0.7, judge=OTHER_JUDGE))
    build_site(root / "results", root / "site")
    handler = functools.partial(_QuietHandler, directory=str(root / "site"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[Any]:
    chromium, chromedriver = _find(CHROMIUM), _find(CHROMEDRIVER)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail(f"selenium is not installed: {INSTALL}")
    options = Options()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.implicitly_wait(2)
    driver.get("about:blank")  # let the start-up tab finish, then drop its (browser-internal) log entries
    driver.get_log("performance")
    driver.get_log("browser")
    yield driver
    driver.quit()


def _row_keys(driver: Any, table: str = "#main-table") -> list[str]:
    return driver.execute_script(
        f"return Array.from(document.querySelectorAll('{table} tbody tr')).map(r => r.dataset.key);"
    )


def _row_models(driver: Any) -> list[str]:
    cells = driver.find_elements("css selector", "#main-table tbody td:nth-child(2)")
    return [cell.text.splitlines()[0] for cell in cells]


def _header(driver: Any, label: str) -> Any:
    return driver.find_element("xpath", f"//table[@id='main-table']//th/button[normalize-space()='{label}']")


def _severe(driver: Any) -> list[dict[str, Any]]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _requested_urls(driver: Any) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_the_table_renders_and_sorts_when_a_header_is_pressed(browser, served_site):
    browser.get(f"{served_site}/benchmarks/fvqa-test.html")
    models = _row_models(browser)
    assert models == [model for model, _, _ in MODELS]  # best accuracy first
    tiers = [cell.text for cell in browser.find_elements("css selector", "#main-table tbody td:first-child")]
    assert tiers == ["1", "1", "2", "3", "4"]
    assert "How tiers work" in browser.page_source
    _header(browser, "Model").click()
    assert _row_models(browser) == sorted(models, key=str.lower)
    assert _header(browser, "Model").find_element("xpath", "..").get_attribute("aria-sort") == "ascending"
    _header(browser, "Model").click()
    assert _row_models(browser) == sorted(models, key=str.lower, reverse=True)
    search = _header(browser, "Search ratio")
    search.send_keys("\n")  # the header is a real button: Enter on the focused header sorts too
    by_search = sorted(MODELS, key=lambda spec: -spec[2])
    assert _row_models(browser) == [model for model, _, _ in by_search]
    assert search.find_element("xpath", "..").get_attribute("aria-sort") == "descending"
    status = browser.find_element("id", "sort-status").get_attribute("textContent")
    assert "sorted by Search ratio, descending" in status
    assert browser.find_elements("css selector", "section.separate table tbody tr")[0].get_attribute("data-tier") == "1"


def test_the_plot_loads_and_no_request_leaves_localhost(browser, served_site):
    browser.get_log("performance")  # drop what earlier tests left
    browser.get(f"{served_site}/index.html")
    assert "fvqa-test" in browser.find_element("id", "overview-table").text
    browser.find_element("link text", "fvqa-test").click()
    images = browser.find_elements("css selector", "img.plot")
    assert len(images) == 2
    for image in images:
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) > 0
    browser.find_element("link text", "mmsearch-r1/MMSearch-R1-7B").click()  # submitted with samples.jsonl
    assert "By search label" in browser.page_source
    log = browser.find_element("link text", "samples.jsonl")
    fetched = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0].href).then(r => r.text()).then(done, e => done(String(e)));",
        log,
    )
    assert json.loads(fetched.splitlines()[0])["id"] == "fvqa_test_0"
    urls = _requested_urls(browser)
    assert any(url.endswith("/benchmarks/fvqa-test-1.png") for url in urls)
    assert any(url.endswith("/assets/leaderboard.js") for url in urls)
    leaving = [url for url in urls if not (url.startswith("data:") or urlparse(url).hostname in LOCAL_HOSTS)]
    assert leaving == []


def test_no_console_errors_and_submitted_scripts_never_run(browser, served_site):
    from selenium.common.exceptions import NoAlertPresentException

    browser.get_log("browser")
    for page in ("index.html", "benchmarks/fvqa-test.html", *_run_pages(browser, served_site)):
        browser.get(f"{served_site}/{page}")
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.accept()
    assert _severe(browser) == []
    browser.get(f"{served_site}/benchmarks/fvqa-test.html")
    assert "<script>alert(1)</script>" in _row_models(browser)


def _run_pages(browser: Any, served_site: str) -> list[str]:
    browser.get(f"{served_site}/benchmarks/fvqa-test.html")
    links = browser.find_elements("css selector", "td:nth-child(2) a")
    return [urlparse(link.get_attribute("href")).path.lstrip("/") for link in links]
