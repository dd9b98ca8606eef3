"""End-to-end test of the latent explorer in headless Chromium (Debian's chromium + chromium-driver).

Selenium drives the system chromedriver through an explicit Service path, so nothing is
downloaded. Skips only when /usr/bin/chromium or the selenium package is missing.
"""

import os
import threading

import numpy as np
from PIL import Image
import pytest

from oogan_tf import serving

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed (pip install selenium)")
if not os.path.exists(CHROMIUM):
  pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)",
              allow_module_level=True)

from selenium.webdriver.chrome.service import Service  # pylint: disable=g-import-not-at-top
from selenium.webdriver.support.ui import WebDriverWait  # pylint: disable=g-import-not-at-top

TIMEOUT_S = 30


def _served(export_dir):
  """Yields the URL of a server for export_dir running in a thread; shuts it down after."""
  server = serving.make_server(serving.ServedModel(export_dir), port=0)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  yield server.url
  server.shutdown()
  server.server_close()


@pytest.fixture(scope="module")
def url(tiny_export):
  yield from _served(tiny_export)


@pytest.fixture(scope="module")
def categorical_url(tiny_cat_export):
  yield from _served(tiny_cat_export)


@pytest.fixture
def browser(tmp_path):
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", "--window-size=1000,760", f"--user-data-dir={tmp_path / 'profile'}"):
    options.add_argument(flag)
  driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
  driver.set_script_timeout(TIMEOUT_S)
  yield driver
  driver.quit()


def renders(driver) -> int:
  return int(driver.find_element("id", "image").get_attribute("data-renders"))


def test_slider_changes_the_image(url, browser, tmp_path):
  browser.get(url)
  wait = WebDriverWait(browser, TIMEOUT_S)
  wait.until(lambda d: renders(d) >= 1)
  sliders = browser.find_elements("css selector", "#codes input[type=range]")
  assert len(sliders) == 3
  assert not browser.find_element("id", "category-row").is_displayed()  # no categorical code
  before = browser.execute_script("return document.getElementById('image').toDataURL();")
  count = renders(browser)
  # Move c0 to the far end of its range, as a drag would, and let the debounced render run.
  browser.execute_script("""
      const s = arguments[0];
      s.value = Number(s.value) < 0.5 ? s.max : s.min;
      s.dispatchEvent(new Event('input', {bubbles: true}));""", sliders[0])
  wait.until(lambda d: renders(d) > count)
  after = browser.execute_script("return document.getElementById('image').toDataURL();")
  assert after != before
  assert "error" not in browser.find_element("id", "status").get_attribute("class")
  browser.save_screenshot(str(tmp_path / "explorer.png"))
  assert (tmp_path / "explorer.png").stat().st_size > 0


def test_upload_sets_the_sliders(url, browser, tmp_path):
  browser.get(url)
  wait = WebDriverWait(browser, TIMEOUT_S)
  wait.until(lambda d: renders(d) >= 1)
  count = renders(browser)
  picture = tmp_path / "upload.png"
  Image.fromarray(np.tile(np.linspace(0, 255, 48, dtype=np.uint8), (40, 1))).convert("RGB").save(
      picture)
  browser.find_element("id", "upload").send_keys(str(picture))
  wait.until(lambda d: renders(d) > count)
  assert "error" not in browser.find_element("id", "status").get_attribute("class")
  preview = browser.find_element("id", "upload-preview")
  assert preview.get_attribute("width") == "32"  # resized to the export's image size
  values = [float(s.get_attribute("value"))
            for s in browser.find_elements("css selector", "#codes input[type=range]")]
  assert len(values) == 3 and all(0.0 <= v <= 1.0 for v in values)


def test_category_selector_changes_the_image(categorical_url, browser):
  browser.get(categorical_url)
  wait = WebDriverWait(browser, TIMEOUT_S)
  wait.until(lambda d: renders(d) >= 1)
  select = browser.find_element("id", "category")
  assert select.is_displayed()
  assert [o.get_attribute("value") for o in select.find_elements("tag name", "option")] == [
      "0", "1", "2", "3"]
  before = browser.execute_script("return document.getElementById('image').toDataURL();")
  current = select.get_attribute("value")
  count = renders(browser)
  browser.execute_script("""
      const s = arguments[0];
      s.value = arguments[1];
      s.dispatchEvent(new Event('change', {bubbles: true}));""", select,
                         "2" if current != "2" else "0")
  wait.until(lambda d: renders(d) > count)
  after = browser.execute_script("return document.getElementById('image').toDataURL();")
  assert after != before
  status = browser.find_element("id", "status")
  assert "error" not in status.get_attribute("class") and "category" in status.text
