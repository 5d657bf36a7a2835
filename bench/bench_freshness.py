"""Freshness benchmark; writes the "## Freshness" section of BENCHMARKS.md.

The fake origin (tests/fake_origin) publishes two weeks of episodes on the origin's
pattern (tests/fake_origin/timeline.py: each scheduled anime on its day around its own
usual hour; unscheduled: hours-late releases, Random-day anime, new titles, anime that
finish with a batch) on a virtual clock. The scraper runs against it over real HTTP on
the same clock: its client is paced by the request budget in virtual time (the rate limit
holds, nobody sleeps), Django's ``timezone.now`` reads the virtual clock (created_at
stamps, ScrapeRun times, the planner's "now"), and a tick every virtual minute decides
whether to poll:

* fixed: today's update, every 30 minutes;
* planned: scraper.freshness's decision from what the database knows (the tick task's
  own inputs, scraper.freshness_state), with an origin that sends no validators and with
  one that honours conditional requests.

The first week teaches the planner the hours; the second is measured: for each release,
the delay from the origin publishing it to it being visible on our home page, read through
the real page stack (Django's test client: middleware, the page cache that follows
versions) right after each poll that stored something; and the origin requests of the
week per hour, and in any one second of virtual time against the rate limit. Each
simulation runs in its own process with its own SQLite database.

Run: ``.venv/bin/python bench/bench_freshness.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mdsection

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SIMULATIONS = {  # name -> (policy, the origin's conditional mode)
    "fixed": ("fixed", "off"),
    "planned": ("planned", "off"),
    "planned-304": ("planned", "honour"),
}
RATE = 2.0  # requests per second toward the origin (SCRAPER_RATE_LIMIT's default)
GOALS = {"scheduled_p95_min": 2.0, "unscheduled_p95_min": 10.0, "requests_per_hour": 60.0}
FIXED_MINUTES = 30


# --------------------------------------------------------------------------- one simulation


def _django(var_dir: Path) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "CACHE_REDIS_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="otakusite.settings",
        OTAKUSITE_VAR_DIR=str(var_dir),
        DEBUG="1",
        ALLOWED_HOSTS="testserver,localhost",
        LOG_LEVEL="WARNING",
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.conf import settings

    # Static files and templates stay as DEBUG configured them; only the per-query log
    # of a DEBUG connection (a cost the real worker does not pay) is turned off.
    settings.DEBUG = False


def _virtual_now(clock: Any) -> None:
    """Django's ``now`` reads the virtual clock (fields with ``default=timezone.now`` hold
    the function itself, so they are pointed at the new one too)."""
    from django.apps import apps
    from django.db.models import DateTimeField
    from django.utils import timezone

    original = timezone.now

    def now() -> datetime:
        return clock.now.astimezone(UTC)

    timezone.now = now
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, DateTimeField) and field.default is original:
                field.default = now


class Visibility:
    """Reads our home page through Django after a poll and notes which releases show."""

    def __init__(self) -> None:
        from django.test import Client

        self.client = Client()
        self.visible: dict[int, datetime] = {}
        self.ingested_not_visible = 0

    def check(self, releases: list[Any], now: datetime) -> None:
        from catalog.models import Anime, Episode

        html = self.client.get("/").content.decode()
        newest, _, completed = html.partition("Baru tamat")
        for n, release in enumerate(releases):
            if n in self.visible or not release.published:
                continue
            if release.kind == "batch":
                shown = f"/anime/{release.anime_slug}/" in completed
                stored = Anime.objects.filter(slug=release.anime_slug, status="completed")
            else:
                shown = f"/episode/{release.episode_slug}/" in newest
                stored = Episode.objects.filter(slug=release.episode_slug)
            if shown:
                self.visible[n] = now
            elif stored.exists():
                self.ingested_not_visible += 1


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _summary(delays: list[float]) -> dict[str, float]:
    return {
        "n": len(delays),
        "p50": _percentile(delays, 0.5),
        "p95": _percentile(delays, 0.95),
        "max": max(delays, default=float("nan")),
    }


def _max_in_one_second(times: list[float]) -> int:
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


class Simulation:
    def __init__(self, policy: str, conditional: str, size: int, seed: int, days: int) -> None:
        from scraper.client_factory import make_client
        from tests.fake_origin import DEFAULT_NOW, FakeOrigin
        from tests.fake_origin.timeline import Clock, Publisher

        self.policy = policy
        self.origin = FakeOrigin(seed=seed, size=size).start()
        self.origin.conditional.set_mode(conditional)
        self.clock = Clock(DEFAULT_NOW + timedelta(minutes=30))
        self.days = days
        self.publisher = Publisher(
            self.origin.catalog,
            self.clock,
            days=2 * days,
            seed=seed,
            new_titles=4,
            batches=3,
            extras_after=days,  # in the measured half
        )
        self.origin.timeline = self.publisher
        _virtual_now(self.clock)
        self.client = make_client(
            self.origin.base_url,
            rate=RATE,
            cookie_path=None,
            clock=self.clock.monotonic,
            sleep=self.clock.sleep,
        )
        self.visibility = Visibility()
        self.polls = 0

    def poll(self) -> None:
        from scraper.crawl import run_crawl

        result = run_crawl("ongoing", client=self.client)
        self.polls += 1
        if result.created or result.updated:
            self.visibility.check(self.publisher.releases, self.clock.now)

    def run(self) -> dict[str, Any]:
        from django.utils import timezone

        from scraper import freshness, freshness_state
        from scraper.crawl import run_crawl

        run_crawl("full", client=self.client)
        start = self.clock.now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        measured_from = start + timedelta(days=self.days)
        end = start + timedelta(days=2 * self.days)
        policy = freshness_state.policy()  # the settings' intervals, like the tick
        last_poll: datetime | None = None
        inputs = None
        tick = start
        while tick < end:
            self.clock.advance_to(tick)
            now = timezone.localtime(self.clock.now)
            if self.policy == "fixed":
                due = last_poll is None or now - last_poll >= timedelta(minutes=FIXED_MINUTES)
            else:
                inputs = inputs or (
                    freshness_state.expectations(now),
                    freshness_state.recent_polls(),
                )
                due = freshness.decide(now, *inputs, policy).due
            if due:
                last_poll = now
                self.poll()
                inputs = None  # the poll changed what the planner reads
            # The next whole minute after the poll (a poll can outlast a minute).
            tick = max(tick + timedelta(minutes=1), self.clock.now.replace(second=0, microsecond=0))
        return self.report(measured_from, end)

    def report(self, since: datetime, until: datetime) -> dict[str, Any]:
        measured = [(n, r) for n, r in enumerate(self.publisher.releases) if since <= r.at < until]
        delays: dict[str, list[float]] = {"scheduled": [], "unscheduled": []}
        unseen = 0
        for n, release in measured:
            seen = self.visibility.visible.get(n)
            if seen is None:
                unseen += 1
                continue
            key = "scheduled" if release.scheduled else "unscheduled"
            delays[key].append((seen - release.at).total_seconds() / 60)
        offset = (since - self.clock.start).total_seconds()
        span = (until - since).total_seconds()
        times = sorted(t for t, _p in self.publisher.requests if offset <= t < offset + span)
        self.client.close()
        self.origin.stop()
        return {
            "scheduled": _summary(delays["scheduled"]),
            "unscheduled": _summary(delays["unscheduled"]),
            "unseen": unseen,
            "ingested_not_visible": self.visibility.ingested_not_visible,
            "requests": len(times),
            "requests_per_hour": len(times) / (span / 3600),
            "max_per_second": _max_in_one_second(times),
            "polls": self.polls,
            "kinds": sorted({r.kind for _n, r in measured if not r.scheduled}),
        }


def child(name: str, size: int, seed: int, days: int) -> None:
    started = time.perf_counter()
    # The database in memory-backed storage where there is some: commits cost no fsync.
    shm = Path("/dev/shm")
    where = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="bench-freshness-", dir=where) as tmp:
        _django(Path(tmp))
        policy, conditional = SIMULATIONS[name]
        result = Simulation(policy, conditional, size, seed, days).run()
    result["seconds"] = time.perf_counter() - started
    print(json.dumps(result))


# --------------------------------------------------------------------------- the report


def _row(name: str, r: dict[str, Any]) -> str:
    s, u = r["scheduled"], r["unscheduled"]
    return (
        f"| {name} | {s['n']} | {s['p50']:.1f} / {s['p95']:.1f} / {s['max']:.1f} "
        f"| {u['n']} | {u['p50']:.1f} / {u['p95']:.1f} / {u['max']:.1f} "
        f"| {r['requests_per_hour']:.1f} | {r['max_per_second']} | {r['unseen']} "
        f"| {r['ingested_not_visible']} |"
    )


def section(results: dict[str, dict[str, Any]], args: argparse.Namespace, wall: float) -> str:
    size, seed, days = args.size, args.seed, args.days
    planned = results["planned"]
    met = (
        planned["scheduled"]["p95"] <= GOALS["scheduled_p95_min"]
        and planned["unscheduled"]["p95"] <= GOALS["unscheduled_p95_min"]
        and planned["requests_per_hour"] <= GOALS["requests_per_hour"]
        and all(r["max_per_second"] <= RATE for r in results.values())
    )
    lines = [
        "## Freshness",
        "",
        (
            f"`bench/bench_freshness.py`, {datetime.now():%Y-%m-%d}, {mdsection.cpu_model()}. "
            f"Fake origin of {size} anime (seed {seed}) publishing {2 * days} days on a "
            f"virtual clock; the first {days} teach the planner, the next {days} are measured. "
            "Delay: from "
            "the origin publishing a release to it showing on our home page read through "
            "Django (minutes, p50 / p95 / max). Requests: the origin's log over the measured "
            f"week; the busiest second against the rate limit ({RATE:g}/s)."
        ),
        "",
        (
            "| update | scheduled | delay (min) | unscheduled | delay (min) | requests/h "
            "| max/s | never seen | stored, not shown |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    names = {
        "fixed": f"fixed, every {FIXED_MINUTES} min (before)",
        "planned": "planned, origin without validators",
        "planned-304": "planned, origin honouring conditional requests",
    }
    lines += [_row(names[name], result) for name, result in results.items()]
    lines += [
        "",
        f"Goal (planned, origin without validators): scheduled p95 <= "
        f"{GOALS['scheduled_p95_min']:g} min, unscheduled p95 <= "
        f"{GOALS['unscheduled_p95_min']:g} min, <= {GOALS['requests_per_hour']:g} requests "
        f"an hour, never above the rate limit: **{'met' if met else 'missed'}**. Unscheduled "
        f"releases in the measured week: {', '.join(planned['kinds'])}. "
        '"stored, not shown" counts checks where a stored release was missing from the '
        "home page (0: visible the moment it is ingested). Polls over both halves: "
        + ", ".join(f"{name} {r['polls']}" for name, r in results.items())
        + "; wall time "
        + ", ".join(f"{name} {r['seconds']:.0f} s" for name, r in results.items())
        + f" (two at a time: {wall:.0f} s in all).",
    ]
    return "\n".join(lines) + "\n"


def _simulate(name: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--only", name, "--size", str(args.size)]
    command += ["--seed", str(args.seed), "--days", str(args.days)]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode:
        sys.exit(f"{name} failed:\n{out.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    print(name, json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=150, help="anime in the fake origin")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--days", type=int, default=7, help="days learned, then measured")
    parser.add_argument("--only", choices=sorted(SIMULATIONS), help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="print, do not write")
    args = parser.parse_args()
    if args.only:
        child(args.only, args.size, args.seed, args.days)
        return
    # Two at a time, each in its own process: the longest one sets the wall time.
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_simulate, name, args) for name in SIMULATIONS}
        results = {name: future.result() for name, future in futures.items()}
    text = section(results, args, time.perf_counter() - started)
    print(text)
    if not args.no_write:
        mdsection.write_section("Freshness", text)


if __name__ == "__main__":
    main()
