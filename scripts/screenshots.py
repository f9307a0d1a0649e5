"""Sign in and save a PNG of each dashboard page into screenshots/ (git-ignored), for review.

    python scripts/screenshots.py --base http://127.0.0.1:8000 --username manager --password tierboard-manager

`--page NAME=PATH` (repeatable) shoots only those pages, e.g. `--page run=/tiering/runs/3/`;
`--out DIR` saves elsewhere than screenshots/.

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
    parser.add_argument("--page", action="append", default=[], metavar="NAME=PATH", help="shoot only these pages")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNGs (default: screenshots/)")
    options = parser.parse_args()
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": options.width, "height": 900})
        if options.page:
            page.goto(options.base + "/accounts/login/")
        else:
            shoot(page, options.base + "/accounts/login/", out / "01-login.png")
        page.fill("#id_username", options.username)
        page.fill("#id_password", options.password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        if options.page:
            for name, _, path in (item.partition("=") for item in options.page):
                shoot(page, options.base + path, out / f"{name}-{options.width}.png")
            browser.close()
            print(f"saved to {out}")
            return
        shoot(page, options.base + "/", out / "02-overview.png")
        shoot(page, options.base + "/tiers/", out / "03-all-customers.png")
        shoot(page, options.base + "/tiers/3/?sort=-revenue", out / "04-tier-3.png")
        shoot(page, options.base + "/tiers/2/?mine=on&min_margin=500&per_page=25", out / "05-tier-2-filtered.png")
        shoot(
            page,
            options.base + "/tiers/?page=abc&per_page=7&sort=nope&min_margin=xyz&last_order_from=2026-13-45",
            out / "06-bad-query.png",
        )
        shoot(page, options.base + "/tiers/?q=zzzz-no-such-customer", out / "07-no-results.png")
        customer = options.customer or _first_customer(page, options.base)
        shoot(page, f"{options.base}/customer/{customer}/", out / "08-customer.png")
        browser.close()
    print(f"saved to {out}")


def shoot(page, url: str, path: Path) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(path), full_page=True)


def _first_customer(page, base: str) -> int:
    page.goto(base + "/tiers/3/")
    href = page.locator("table.customers tbody a").first.get_attribute("href")
    return int(re.search(r"/customer/(\d+)/", href).group(1))


if __name__ == "__main__":
    main()
