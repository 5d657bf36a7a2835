"""Accessibility: axe-core (npm, package.json) injected into every page a viewer sees, in
the light and the dark theme, on a phone and a desktop; no serious or critical violation
is allowed. Then the keyboard: the skip link and a visible focus ring in both themes.

The viewer has followed a show and watched an episode first, so the rails, the "baru"
badges, the pressed follow buttons and the watched marks are on the pages that axe checks.
Fixtures from tests/test_browser.py (same live server, same Debian Chromium).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.site_factories import SampleCatalogue, make_anime
from tests.test_browser import CHROMIUM, DESKTOP, PHONE, browser_site, chromium

__all__ = ["browser_site", "chromium"]  # the fixtures, shared with test_browser

AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
    pytest.mark.skipif(
        not AXE.exists(), reason=f"{AXE} is missing: run `npm ci` (package.json, .ci/run does)"
    ),
]

BLOCKING = {"serious", "critical"}
# --bg of each theme (static/css/site.css): proves the theme asked for is the one checked.
BACKGROUND = {"dark": "rgb(15, 17, 23)", "light": "rgb(246, 247, 251)"}


def viewer_pages(sample: SampleCatalogue) -> list[tuple[str, int]]:
    """Every kind of page a viewer reaches, with the status it must answer."""
    return [
        ("/", 200),
        ("/ongoing/", 200),
        ("/completed/", 200),
        ("/anime/", 200),
        ("/genres/", 200),
        ("/genres/aksi/", 200),
        ("/jadwal/", 200),
        ("/search/?q=pedang", 200),
        ("/search/?q=pedang&genre=aksi&status=ongoing&sort=score", 200),  # chips, sorts
        ("/search/?q=tidak-ada-anime-seperti-ini", 200),
        (sample.ongoing.get_absolute_url(), 200),
        (sample.completed.get_absolute_url(), 200),
        (sample.episodes[0].get_absolute_url(), 200),
        ("/diikuti/", 200),
        ("/offline/", 200),
        ("/halaman-yang-tidak-ada/", 404),
    ]


def themed_context(browser, theme: str, viewport: dict[str, int], sample: SampleCatalogue):
    """A viewer whose system prefers `theme` and who picked it, following one show.

    bypass_csp: axe is injected as an inline script, which the site's CSP rightly refuses
    (the CSP itself is tested in tests/test_browser.py)."""
    context = browser.new_context(
        viewport=viewport, locale="id-ID", color_scheme=theme, bypass_csp=True
    )
    follow = {"v": 1, "items": [{"slug": sample.ongoing.slug, "title": "Pedang Bintang", "at": 1}]}
    context.add_init_script(
        "try {"
        f" localStorage.setItem('otakusite:theme', {json.dumps(theme)});"
        " if (!localStorage.getItem('otakusite:follow'))"
        f" localStorage.setItem('otakusite:follow', {json.dumps(json.dumps(follow))});"
        "} catch (e) {}"
    )
    return context


def serious_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v.get("impact") in BLOCKING]


def describe(url: str, violations: list[dict]) -> str:
    """One readable block per violation: rule, impact, what to do, the elements and why."""
    lines = [f"{url}:"]
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:8]:
            target = " ".join(str(t) for t in node["target"])
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    - {target}: {summary[:300]}")
        if len(v["nodes"]) > 8:
            lines.append(f"    ... and {len(v['nodes']) - 8} more elements")
    return "\n".join(lines)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_no_serious_axe_violation_on_any_page(browser_site, chromium, theme, viewport) -> None:
    site, sample = browser_site
    context = themed_context(chromium, theme, viewport, sample)
    page = context.new_page()
    # Watched once: the home page's "continue watching" rail and the watched marks show.
    page.goto(site + sample.episodes[0].get_absolute_url(), wait_until="load")
    failures = []
    for url, status in viewer_pages(sample):
        response = page.goto(site + url, wait_until="load")
        assert response is not None
        assert response.status == status, url
        # Rails, follow buttons and the Diikuti list are filled by scripts from fetches.
        page.wait_for_load_state("networkidle")
        assert (
            page.evaluate("getComputedStyle(document.body).backgroundColor") == BACKGROUND[theme]
        ), url
        # Folded parts (the search filters) are checked too: axe skips what is not shown.
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        found = serious_violations(page)
        if found:
            failures.append(describe(url, found))
    context.close()
    assert not failures, f"axe-core, {theme} theme:\n" + "\n".join(failures)


# What the viewer sees of the focused element's ring: the element that draws it (cards draw
# it on their poster, static/css/site.css), its outline, and the first scrolling or clipping
# ancestor that cuts it off (the body's overflow belongs to the viewport, so it is skipped).
FOCUS_RING = """async () => {
  // Focus scrolls rows with scroll snapping smoothly: measure once every scroller is still.
  const frame = () => new Promise(r => requestAnimationFrame(() => r()));
  const scrollers = () => [...document.querySelectorAll('*')]
    .filter(e => e.scrollWidth > e.clientWidth || e.scrollHeight > e.clientHeight)
    .map(e => e.scrollLeft + ',' + e.scrollTop).join(' ') + ' ' + window.scrollY;
  let last = scrollers(), still = 0;
  for (let i = 0; i < 300 && still < 5; i++) {
    await frame();
    const now = scrollers();
    still = now === last ? still + 1 : 0;
    last = now;
  }
  const el = document.activeElement;
  const ringEl = (el.matches('.card-link') && el.querySelector('.poster')) || el;
  const s = getComputedStyle(ringEl);
  const width = s.outlineStyle === 'none' ? 0 : parseFloat(s.outlineWidth);
  const reach = Math.max(0, width + parseFloat(s.outlineOffset));
  const r = ringEl.getBoundingClientRect();
  let clippedBy = null;
  for (let a = ringEl.parentElement; a && a !== document.body; a = a.parentElement) {
    const as = getComputedStyle(a);
    if (as.overflowX === 'visible' && as.overflowY === 'visible') continue;
    const ar = a.getBoundingClientRect();
    const left = ar.left + a.clientLeft, top = ar.top + a.clientTop;
    if (r.left - reach < left - 0.5 || r.top - reach < top - 0.5
        || r.right + reach > left + a.clientWidth + 0.5
        || r.bottom + reach > top + a.clientHeight + 0.5) {
      clippedBy = a.tagName.toLowerCase() + '.' + [...a.classList].join('.');
      break;
    }
  }
  // Hidden under what stays on top of the page (the sticky top bar, the A-Z letter bar)?
  // (Where they overlap, which of the two is painted on top: the skip link is above.)
  let obscuredBy = null;
  for (const bar of document.querySelectorAll('.topbar, .letterbar')) {
    if (bar.contains(el)) continue;
    const b = bar.getBoundingClientRect();
    const top = Math.max(r.top, b.top), bottom = Math.min(r.bottom, b.bottom);
    if (bottom - top < 0.5) continue;
    const x = Math.min(Math.max((r.left + r.right) / 2, 0), innerWidth - 1);
    const hit = document.elementFromPoint(x, (top + bottom) / 2);
    if (hit && bar.contains(hit)) {
      obscuredBy = bar.className;
      break;
    }
  }
  return {tag: el.tagName, text: (el.textContent || '').trim().slice(0, 40),
          href: el.getAttribute('href'), width, style: s.outlineStyle, clippedBy, obscuredBy,
          left: el.getBoundingClientRect().left};
}"""


def focus_ring(page) -> dict:
    return page.evaluate(FOCUS_RING)


def rings_along_tab_order(page, stops: int, key: str = "Tab") -> list[dict]:
    """Press `key` `stops` times; every stop whose ring is missing, thinner than 2 px, cut
    off, or hidden under the sticky bars. The player's iframe is left out: inside it, focus
    belongs to the embed host's page."""
    bad = []
    for _ in range(stops):
        page.keyboard.press(key)
        ring = focus_ring(page)
        if ring["tag"] in {"BODY", "IFRAME"}:
            continue
        if ring["style"] == "none" or ring["width"] < 2 or ring["clippedBy"] or ring["obscuredBy"]:
            bad.append({"key": key, **ring})
    return bad


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_keyboard_skip_link_and_visible_focus(browser_site, chromium, theme) -> None:
    """Tab first reaches "Langsung ke isi", shown on screen; Enter moves to the content. On
    a phone, every element Tab or Shift+Tab reaches on the home page (menu, search, rails of
    cards), the episode page (mirrors, downloads, the episode list) and a long A-Z list shows
    a focus ring of at least 2 px that no scrolling row cuts off and no sticky bar hides; a
    letter of the A-Z bar scrolls its heading to just below the bar."""
    site, sample = browser_site
    context = themed_context(chromium, theme, PHONE, sample)
    page = context.new_page()
    page.goto(site + sample.ongoing.get_absolute_url(), wait_until="load")
    page.wait_for_load_state("networkidle")

    page.keyboard.press("Tab")
    skip = focus_ring(page)
    assert (skip["text"], skip["href"]) == ("Langsung ke isi", "#main")
    assert skip["left"] >= 0, "the skip link stays off screen when focused"
    assert skip["style"] != "none", skip
    assert skip["width"] >= 2, skip
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    page.keyboard.press("Tab")  # the first control inside the main content
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")

    # A long A-Z page: every letter, four anime each, so it scrolls under both sticky bars.
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        for n in range(4):
            make_anime(f"uji-{letter.lower()}-{n}", f"{letter}ji Contoh {n}")
    bad = []
    for url in ("/", sample.episodes[0].get_absolute_url(), "/anime/"):
        page.goto(site + url, wait_until="load")
        page.wait_for_load_state("networkidle")
        page.keyboard.press("End")  # from the bottom up: each stop scrolls in at the top
        page.evaluate("document.activeElement && document.activeElement.blur()")
        bad += [{"page": url, **r} for r in rings_along_tab_order(page, 30, "Shift+Tab")]
        bad += [{"page": url, **r} for r in rings_along_tab_order(page, 40)]
    # A letter's heading lands below the letter bar, not under it.
    page.click('.letterbar a[href="#huruf-M"]')
    landed = page.evaluate(
        """() => ({heading: document.getElementById('huruf-M').getBoundingClientRect().top,
                   bar: document.querySelector('.letterbar').getBoundingClientRect().bottom})"""
    )
    assert landed["bar"] <= landed["heading"] < landed["bar"] + 40, landed
    context.close()
    assert bad == [], "\n".join(str(b) for b in bad)
