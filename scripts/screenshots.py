"""Sign in and save a PNG of each dashboard page into screenshots/ (git-ignored), for review.

    python scripts/screenshots.py --base http://127.0.0.1:8000 --username manager --password tierboard-manager

Needs a running server with data (`seed_demo`, then `retier`). Uses
Debian's Chromium by path through Playwright; never `playwright install`.
"""

import argparse
import re
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
OUT = Path(__file__).resolve().parent.parent / "screenshots"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--username", default="manager")
    parser.add_argument("--password", default="tierboard-manager")
    parser.add_argument("--width", type=int, default=1366)
    parser.add_argument("--customer", type=int, help="customer id for the customer page (default: first in the list)")
    options = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": options.width, "height": 900})
        shoot(page, options.base + "/accounts/login/", "01-login")
        page.fill("#id_username", options.username)
        page.fill("#id_password", options.password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        shoot(page, options.base + "/", "02-overview")
        shoot(page, options.base + "/tiers/", "03-all-customers")
        shoot(page, options.base + "/tiers/3/?sort=-revenue", "04-tier-3")
        shoot(page, options.base + "/tiers/2/?mine=on&min_margin=500&per_page=25", "05-tier-2-filtered")
        shoot(
            page,
            options.base + "/tiers/?page=abc&per_page=7&sort=nope&min_margin=xyz&last_order_from=2026-13-45",
            "06-bad-query",
        )
        shoot(page, options.base + "/tiers/?q=zzzz-no-such-customer", "07-no-results")
        customer = options.customer or _first_customer(page, options.base)
        shoot(page, f"{options.base}/customer/{customer}/", "08-customer")
        browser.close()
    print(f"saved to {OUT}")


def shoot(page, url: str, name: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)


def _first_customer(page, base: str) -> int:
    page.goto(base + "/tiers/3/")
    href = page.locator("table.customers tbody a").first.get_attribute("href")
    return int(re.search(r"/customer/(\d+)/", href).group(1))


if __name__ == "__main__":
    main()
