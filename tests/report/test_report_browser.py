"""The report in a real browser (headless Chromium through Selenium, from file:// with no server): no console error,
every image loads, the toggles change what is drawn, sorting puts the known worst image first, clicking an instance
shows its IoU, paging and the class filter, the zoom of the run curves. Skipped with the reason when no Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from baiseg.report import build_report
from tests.report.browser import console_errors, open_browser, page_url
from tests.report.tiny import WORST, dataset_yaml, make_evaluation, make_run

WAIT_S = 5.0


@pytest.fixture(scope="module")
def driver() -> Any:
    d = open_browser()
    yield d
    d.quit()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    data = dataset_yaml(root)
    return build_report([make_evaluation(root / "a", data), make_evaluation(root / "b", data, method="other")],
                        root / "report")  # fmt: skip


def wait_for(driver: Any, script: str) -> Any:
    """Poll a JavaScript expression until it is truthy (the page loads data files asynchronously)."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S).until(lambda d: d.execute_script(f"return {script}"))


def load(driver: Any, index: Path) -> None:
    driver.get(page_url(index))
    wait_for(driver, "document.body.dataset.ready === '1'")
    console_errors(driver)  # drop what an earlier page left


def images_loaded(driver: Any, selector: str) -> list[int]:
    """naturalWidth of every visible image matched by ``selector`` once all have finished loading."""
    wait_for(driver, f"[...document.querySelectorAll('{selector}')].every(i => i.complete)")
    return driver.execute_script(f"return [...document.querySelectorAll('{selector}')].map(i => i.naturalWidth)")


def choose(driver: Any, select_id: str, value: str) -> None:
    """Pick ``value`` in the <select> ``select_id`` as a user would (a change event)."""
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", select_id)).select_by_value(value)


def open_image(driver: Any, position: int = 0) -> None:
    driver.find_elements("css selector", ".thumb")[position].click()
    wait_for(driver, "document.querySelectorAll('#panels .panel').length > 0")


def test_no_console_error_and_every_image_loads(driver: Any, report: Path) -> None:
    load(driver, report)
    widths = images_loaded(driver, ".thumb img")
    assert len(widths) == 4 and all(w > 0 for w in widths)
    open_image(driver)
    widths = images_loaded(driver, "#panels img")
    assert len(widths) == 2 * 3 and all(w > 0 for w in widths)  # two methods x photo, boundary, semantic
    gt_paths = "return document.querySelectorAll('#panels svg path.inst.gt').length"
    assert driver.execute_script(gt_paths) > 0  # the worst image: GT outlines only
    assert console_errors(driver) == []


def test_sorting_puts_the_worst_image_first(driver: Any, report: Path) -> None:
    load(driver, report)
    first = driver.execute_script("return document.querySelector('.thumb').dataset.id")
    worst = driver.execute_script(f"return REPORT.images[{WORST}].id")
    assert first == worst
    choose(driver, "sort", "id")
    first_id = "return document.querySelector('.thumb').dataset.id"
    assert driver.execute_script(first_id) == driver.execute_script("return REPORT.images[0].id")
    choose(driver, "sort", "split")
    assert driver.execute_script("return document.querySelector('.thumb').dataset.index") == "2"


def displayed(driver: Any, selector: str) -> bool:
    return driver.execute_script(f"const e = document.querySelector('{selector}');"
                                 "return !!e && getComputedStyle(e).display !== 'none'")  # fmt: skip


@pytest.mark.parametrize("layer, selector, default", [("pred", ".layer-pred", True), ("gt", ".layer-gt", True),
                                                      ("boundary", ".map-boundary", False),
                                                      ("semantic", ".map-semantic", False),
                                                      ("labels", ".layer-labels", True)])  # fmt: skip
def test_toggles_change_what_is_drawn(driver: Any, report: Path, layer: str, selector: str, default: bool) -> None:
    load(driver, report)
    open_image(driver, 1)
    assert displayed(driver, selector) is default
    driver.find_element("css selector", f".toggle input[data-layer='{layer}']").click()
    assert displayed(driver, selector) is not default
    driver.find_element("css selector", f".toggle input[data-layer='{layer}']").click()
    assert displayed(driver, selector) is default


def test_clicking_an_instance_shows_its_iou(driver: Any, report: Path) -> None:
    load(driver, report)
    choose(driver, "sort", "id")
    open_image(driver, 0)  # predicted exactly: every instance has IoU 1
    path = driver.find_element("css selector", "#panels .panel[data-method='0'] path.inst.pred")
    driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", path)
    info = driver.find_element("id", "info").text
    assert "best IoU 1.000" in info and "class " in info and "area " in info and "score " in info
    assert console_errors(driver) == []


def test_class_filter_and_paging(driver: Any, report: Path) -> None:
    load(driver, report)
    cls = driver.execute_script("return REPORT.classes[0]")
    expected = driver.execute_script(f"return REPORT.images.filter(r => r.cls.includes('{cls}')).length")
    choose(driver, "cls-filter", cls)
    assert len(driver.find_elements("css selector", ".thumb")) == expected
    assert f"({expected} images)" in driver.find_element("id", "page-label").text


def test_paging_of_a_larger_report(driver: Any, tmp_path: Path) -> None:
    data = dataset_yaml(tmp_path, num_images=65)
    index = build_report([make_evaluation(tmp_path / "ev", data, boundary=False)], tmp_path / "r")
    load(driver, index)
    assert len(driver.find_elements("css selector", ".thumb")) == 60
    driver.find_element("id", "next-page").click()
    assert len(driver.find_elements("css selector", ".thumb")) == 5
    assert driver.find_element("id", "page-label").text.startswith("page 2 / 2")
    assert console_errors(driver) == []


def test_run_report_curves_zoom(driver: Any, tmp_path: Path) -> None:
    load(driver, build_report([make_run(tmp_path / "run")], tmp_path / "r"))
    assert images_loaded(driver, "table.val img") and all(w > 0 for w in images_loaded(driver, "table.val img"))
    view = driver.execute_script("return document.querySelector('.chart').chart.view")
    assert view == [10, 100]
    svg = driver.find_element("css selector", ".chart svg")
    from selenium.webdriver import ActionChains

    ActionChains(driver).move_to_element_with_offset(svg, -100, 0).click_and_hold() \
        .move_by_offset(150, 0).release().perform()  # fmt: skip
    lo, hi = driver.execute_script("return document.querySelector('.chart').chart.view")
    assert 10 < lo < hi < 100
    count = "return document.querySelector('.chart svg').querySelectorAll('path.series').length"
    assert driver.execute_script(count) == 2  # loss, loss_sem
    driver.find_element("css selector", ".series-toggle[data-series='loss']").click()
    assert driver.execute_script(count) == 1
    assert "val_images: 2" in driver.find_element("css selector", "#config pre").text
    assert console_errors(driver) == []
