"""The reports in a real browser: a graded batch's student reports (with pictures) and its class summary,
opened in headless Chromium (Debian's `chromium`, driven by selenium through Debian's
`/usr/bin/chromedriver`; Selenium Manager is kept offline and never downloads a driver).

Every page must load without a console error, and every image on it must decode and be displayed.
Full-page screenshots go to out/screenshots/ (the path is printed). Locally the test skips, saying
why, when chromium, chromedriver or selenium is missing; in CI (tests/ci.py) it fails instead.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import mistakes
from ci import in_ci
from grader.config import GradeConfig
from grader.grade import grade_batch
from grader.sandbox import Limits

#: One xdist worker grades the batch and starts the browser once for every test here.
pytestmark = pytest.mark.xdist_group("browser")

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "out" / "screenshots"
#: The flags of the team guide: no sandbox or GPU in a container, nothing reaching beyond this machine.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1100,900")
#: L3-D: per-group scales and codes. One right submission and three catalogued mistakes: one in the
#: per-group functions themselves (its tensor tests fail and are drawn), two in helpers they call (a
#: reference helper stands in for those, so they pass here: see grader/own_logic.py).
SUBMISSIONS = {
    "ok_course": mistakes.COURSE_LITERAL,
    "wrong_truncate": mistakes.mistake_source("round_truncate_cast"),
    "wrong_scale_128": mistakes.mistake_source("sym_scale_128"),
    "wrong_axis": mistakes.mistake_source("per_group_wrong_axis"),
}
LIMITS = Limits(question=30.0, load=60.0, cell=20.0)

#: Each image: whether it decoded (img.decode()), is complete, its natural and displayed sizes, and visibility.
IMAGES_JS = """
const done = arguments[arguments.length - 1];
Promise.all(Array.from(document.images).map(async (img) => {
  let decoded = true;
  try { await img.decode(); } catch (e) { decoded = false; }
  const box = img.getBoundingClientRect();
  const style = getComputedStyle(img);
  return {src: img.src.slice(0, 40), decoded, complete: img.complete, naturalWidth: img.naturalWidth,
          naturalHeight: img.naturalHeight, width: box.width, height: box.height,
          visible: style.display !== "none" && style.visibility !== "hidden" && Number(style.opacity) > 0};
})).then(done);
"""


def _missing() -> list[str]:
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    try:
        import selenium  # noqa: F401 - only whether it is installed
    except ImportError:
        missing.append("selenium (the project's dev extra)")
    return missing


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = _missing()
    if missing:
        reason = (f"the browser test needs {', '.join(missing)}: `make test` installs chromium and "
                  "chromium-driver with apt when run as root (`make browser`), `make venv` installs selenium")
        if in_ci():
            pytest.fail(f"CI is set, so this test may not skip: {reason}.")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in (*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never fetch a driver or a browser
        driver = webdriver.Chrome(options=options, service=Service(executable_path=shutil.which("chromedriver")))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("browser-submissions")
    for student, source in SUBMISSIONS.items():
        (folder / f"{student}.py").write_text(source)
    output = tmp_path_factory.mktemp("browser-out")
    grade_batch(GradeConfig(lab="L3-D", submissions=folder, output=output, jobs=2, limits=LIMITS))
    return output


def _open(driver, page: Path, name: str) -> list[dict]:
    """Load `page`, check it as the module says, save its full-page screenshot; its images' states."""
    driver.get_log("browser")  # drop what an earlier page logged
    driver.get(page.as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    images = driver.execute_async_script(IMAGES_JS)
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], f"console errors on {page.name}: {errors}"
    for image in images:
        assert image["decoded"] and image["complete"] and image["naturalWidth"] > 0 and image["naturalHeight"] > 0, \
            f"an image of {page.name} does not decode: {image}"
        assert image["visible"] and image["width"] > 50 and image["height"] > 50, \
            f"an image of {page.name} is not displayed: {image}"
    fetched = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert [url for url in fetched if not url.startswith(("data:", "file:"))] == [], "the page fetched something"
    _screenshot(driver, name)
    return images


def _screenshot(driver, name: str) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1100, min(int(height) + 100, 12000))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path)) and path.stat().st_size > 10_000
    driver.set_window_size(1100, 900)
    print(f"screenshot: {path}")


def _result(graded, student: str) -> dict:
    return json.loads((graded / "results" / f"{student}.json").read_text())


def test_student_reports_with_pictures_render_in_chromium(browser, graded):
    drawn = []
    for student in SUBMISSIONS:
        images = _open(browser, graded / "reports" / f"{student}.html", f"report-{student}")
        kept = [t for q in _result(graded, student)["questions"] for t in q["tests"] if t.get("capture")]
        if kept:
            assert images, f"{student}'s report has no picture"
            assert all(image["src"].startswith("data:image/png;base64,") for image in images)
            drawn.append(student)
        else:
            # every test passed, or passed with a reference helper standing in for a wrong one (the
            # helper's own lab draws it): nothing to draw here
            assert images == []
    assert "wrong_axis" in drawn  # the per-group functions' own mistake fails tensor tests


def test_the_class_summary_renders_and_its_misconceptions_link_to_reports(browser, graded):
    from selenium.webdriver.common.by import By

    images = _open(browser, graded / "summary.html", "summary-L3-D")
    assert len(images) == 2  # the score histogram and the error per question
    links = browser.find_elements(By.CSS_SELECTOR, "#misconceptions td a")
    diagnosed = sorted(student for student in SUBMISSIONS
                       if any(q["mistake"] for q in _result(graded, student)["questions"]))
    assert sorted(link.text for link in links) == diagnosed and "wrong_axis" in diagnosed
    links[0].click()
    assert browser.current_url.endswith(".html") and "/reports/" in browser.current_url
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Feedback for")


@pytest.mark.parametrize("body, complaint", [
    ('<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA" alt="cut short">', "does not decode"),
    ('<img src="{png}" alt="hidden" style="display:none">', "is not displayed"),
    ('<script>console.error("broken")</script>', "console errors"),
])
def test_the_page_checks_catch_a_broken_image_a_hidden_one_and_a_console_error(browser, graded, tmp_path, body,
                                                                              complaint):
    html = (graded / "summary.html").read_text()
    png = html[html.index('src="data:image/png') + 5:].split('"')[0]  # a real picture, for the hidden case
    page = tmp_path / "page.html"
    page.write_text(f"<!DOCTYPE html><html><body><h1>x</h1>{body.format(png=png)}</body></html>")
    with pytest.raises(AssertionError, match=complaint):
        _open(browser, page, "broken-page")
