"""Looking like the browser the origin expects, and telling its challenge page apart.

The headers a Chrome sends for a page, the site's own jQuery for admin-ajax, and an
iframe; Chrome's client hints must match the User-Agent (a mismatch is a classic bot
signal), also after a solver hands over another one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "DEFAULT_USER_AGENT",
    "EMBED_HEADERS",
    "IMAGE_HEADERS",
    "NAVIGATION_HEADERS",
    "ajax_headers",
    "browser_headers",
    "client_hints",
    "is_challenge",
]

DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
ACCEPT_LANGUAGE = "id-ID,id;q=0.9,en;q=0.8"
ACCEPT_DOCUMENT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
# A page typed into the address bar.
NAVIGATION_HEADERS = {
    "Sec-Fetch-Dest": "document",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Site": "none",
    "Sec-Fetch-User": "?1",
    "Upgrade-Insecure-Requests": "1",
}
# An embed player loaded in the origin's iframe (plus its Referer).
EMBED_HEADERS = {
    "Sec-Fetch-Dest": "iframe",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Site": "cross-site",
    "Upgrade-Insecure-Requests": "1",
}
# What Chromium sends for an <img> of the page (a poster).
IMAGE_HEADERS = {
    "Accept": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
    "Sec-Fetch-Dest": "image",
    "Sec-Fetch-Mode": "no-cors",
    "Sec-Fetch-Site": "same-origin",
}
# Markers of Cloudflare's interstitial. Cloudflare also injects a `challenge-platform`
# script into ordinary 200 pages, so body markers only count on blocking statuses, except
# for the unmistakable interstitial title together with a challenge script.
_CHALLENGE_MARKERS = ("Just a moment...", "challenge-platform", "cf_chl")
_CHALLENGE_STATUSES = frozenset({403, 429, 503})


def browser_headers(user_agent: str) -> dict[str, str]:
    """The headers every request of a client carries."""
    return {
        "User-Agent": user_agent,
        "Accept": ACCEPT_DOCUMENT,
        "Accept-Language": ACCEPT_LANGUAGE,
        **client_hints(user_agent),
    }


def ajax_headers(*, origin: str, referer: str) -> dict[str, str]:
    """A form POST to admin-ajax.php as the site's own jQuery sends it."""
    return {
        "Accept": "*/*",
        "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
        "X-Requested-With": "XMLHttpRequest",
        "Origin": origin,
        "Referer": referer,
        "Sec-Fetch-Dest": "empty",
        "Sec-Fetch-Mode": "cors",
        "Sec-Fetch-Site": "same-origin",
    }


def client_hints(user_agent: str) -> dict[str, str]:
    """Chrome's Sec-CH-UA headers matching ``user_agent`` (none for other browsers):
    a mismatch between the UA and its client hints is a classic bot signal."""
    match = re.search(r"(Headless)?Chrome/(\d+)", user_agent)
    if not match:
        return {}
    major = match.group(2)
    second = "HeadlessChrome" if match.group(1) else "Google Chrome"
    if "Windows" in user_agent:
        platform = "Windows"
    elif "Macintosh" in user_agent:
        platform = "macOS"
    elif "Android" in user_agent:
        platform = "Android"
    else:
        platform = "Linux"
    return {
        "Sec-CH-UA": f'"{second}";v="{major}", "Chromium";v="{major}", "Not_A Brand";v="24"',
        "Sec-CH-UA-Mobile": "?1" if "Mobile" in user_agent else "?0",
        "Sec-CH-UA-Platform": f'"{platform}"',
    }


def is_challenge(status: int, headers: Mapping[str, str], text: str) -> bool:
    """Whether an answer is Cloudflare's challenge instead of the page."""
    if headers.get("cf-mitigated", "").lower() == "challenge":
        return True
    content_type = headers.get("content-type", "")
    if content_type and "html" not in content_type:
        return False
    if status in _CHALLENGE_STATUSES:
        return any(marker in text for marker in _CHALLENGE_MARKERS)
    return "<title>Just a moment...</title>" in text and (
        "challenge-platform" in text or "cf_chl" in text
    )
