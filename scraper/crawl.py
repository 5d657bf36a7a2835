"""Crawls of the origin: what to fetch, in which order, and what to hand to ingest.

- full: A-Z list -> every anime -> its episode pages (and batch), one anime at a time so
  memory does not grow with the catalogue; `max_age` skips anime scraped recently, so a
  stopped full crawl resumes where it was.
- ongoing: the cheap update. Home, then ongoing pages until one has nothing new; only
  anime whose newest episode changed (or that finished) get their detail and their new
  episode pages fetched. Nothing new costs two requests.
- anime SLUG / episode SLUG: one of each.

Every run is recorded in a ScrapeRun (not in a dry run, which writes nothing). A page
that fails to parse or to download is an error of the run (which ends `partial`, not `ok`)
and leaves its anime as it was; only a failure of the crawl's entry page, or an unsolved
challenge, stops the run. An episode whose own page failed is stored from its anime's
page without mirrors and downloads and is tried again by later updates, with a growing
pause (scraper.page_retries), until its page is read.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from catalog.models import Anime, Batch, Episode, ScrapeRun
from scraper import alarms, origin, parsers
from scraper.client import (
    ChallengeError,
    ClientError,
    FetchedPage,
    FetchError,
    OriginClient,
)
from scraper.client_factory import make_client
from scraper.conditional import Validators
from scraper.crawl_record import CrawlResult, RunRecorder
from scraper.ingest import AnimeBundle, Counts, ingest_anime
from scraper.page_retries import anime_with_pages_due, page_due, record_anime_page_failure
from scraper.parsers import ParseError
from scraper.parsers.types import AnimeCard, AnimeDetail, EpisodePage

__all__ = ["KINDS", "CrawlError", "CrawlResult", "CrawlStopped", "ProgressEvent", "run_crawl"]

T = TypeVar("T")

MAX_LIST_PAGES = 50  # a safety stop for the ongoing update's paging


class CrawlError(Exception):
    """The crawl could not go on (entry page unreachable, unsolved challenge...)."""


class ChallengeUnsolved(CrawlError):  # noqa: N818 - a CrawlError; the name says which
    """The origin shows a challenge that the solver could not get past."""


class CrawlStopped(Exception):  # noqa: N818 - a stop, not an error
    """The crawl was asked to stop (SIGTERM, or its run was taken over): it ended before
    its next page, its run is marked interrupted (``result``) and the anime it was fetching
    is left as it was (written only once all its pages are in)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.result: CrawlResult | None = None


@dataclass(frozen=True)
class ProgressEvent:
    """What a crawl reports after each page: for a bar on a terminal or a log line."""

    url: str
    done: int  # anime handled so far
    total: int | None  # anime to handle, when known
    counts: Counts
    note: str = ""


ProgressFn = Callable[[ProgressEvent], None]


class Crawler:
    def __init__(
        self,
        client: OriginClient,
        recorder: RunRecorder,
        *,
        dry_run: bool = False,
        limit: int | None = None,
        max_age: datetime.timedelta | None = None,
        progress: ProgressFn | None = None,
        should_stop: Callable[[], str | None] | None = None,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.should_stop = should_stop
        self.dry_run = dry_run
        self.limit = limit
        self.max_age = max_age
        self.progress = progress
        self.done = 0
        self.total: int | None = None
        self.changes: list[str] = []  # what a dry run would change, one line per anime
        self._challenge_solved = False
        self.watch = alarms.PageWatch(recorder, dry_run=dry_run)

    # ------------------------------------------------------------------ fetching

    def check_stop(self) -> None:
        """Raise CrawlStopped when asked to stop: called before every page and at every
        anime boundary, so a stop waits for one page at most and never for an anime's
        remaining pages (nothing is written for an anime until all its pages are in)."""
        reason = self.should_stop() if self.should_stop is not None else None
        reason = reason or self.recorder.lost
        if reason:
            raise CrawlStopped(reason)

    def fetch(self, path: str, validators: Mapping[str, str] | None = None) -> FetchedPage:
        self.check_stop()
        try:
            page = self.client.get(path, validators=validators)
        except ChallengeError as exc:
            if self._challenge_solved:
                self.watch.challenge_failed = True
                raise ChallengeUnsolved(f"challenge still shown after solving: {exc}") from exc
            self._solve(path, exc)
            page = self.client.get(path, validators=validators)
        self.recorder.page(self.client)
        self._report(page.url)
        return page

    def _solve(self, path: str, exc: ChallengeError) -> None:
        try:
            from scraper.solver import solve_challenge
        except ImportError:
            self.watch.challenge_failed = True
            message = f"origin answers with a challenge and no solver: {exc}"
            raise ChallengeUnsolved(message) from exc
        try:
            solve_challenge(self.client, self.client.origin_url(path))
        except Exception as solve_exc:
            self.watch.challenge_failed = True
            raise ChallengeUnsolved(f"challenge not solved: {solve_exc}") from solve_exc
        self._challenge_solved = True

    def parsed(self, path: str, parser: Callable[[str, str], T]) -> T:
        return self.read(path, self.fetch(path), parser)

    def read(self, path: str, page: FetchedPage, parser: Callable[[str, str], T]) -> T:
        """Parse a fetched page, watching the origin's health (scraper.alarms.PageWatch)."""
        return self.watch.read(self.client, path, page, parser)

    def _report(self, url: str, note: str = "") -> None:
        if self.progress is not None:
            event = ProgressEvent(url, self.done, self.total, self.recorder.counts, note)
            self.progress(event)

    # ------------------------------------------------------------------ one anime

    def crawl_anime(
        self,
        slug: str,
        *,
        refresh_episodes: bool,
        release_day: str | None = None,
        extra_episode: EpisodePage | None = None,
        other_episodes: bool = True,
    ) -> Counts | None:
        """Fetch and ingest one anime; None when it failed (recorded as a run error)."""
        try:
            detail = self.parsed(f"/anime/{slug}/", parsers.parse_detail)
        except (ParseError, FetchError) as exc:
            self.recorder.error(f"anime {slug}: {exc}")
            if not self.dry_run:
                # Its episodes due for another try were not asked for: they wait longer.
                record_anime_page_failure(slug, f"anime page: {type(exc).__name__}: {exc}")
            return None
        episodes: list[EpisodePage] = []
        failed: dict[str, str] = {}
        if other_episodes:
            episodes, failed = self._episode_pages(
                detail, refresh=refresh_episodes, have=extra_episode
            )
        batch = None
        wants_batch = refresh_episodes or self._is_new_batch(detail)
        if detail.batch is not None and other_episodes and wants_batch:
            try:
                batch = self.parsed(f"/batch/{detail.batch.slug}/", parsers.parse_batch)
            except (ParseError, FetchError) as exc:
                # Like a failed episode page: the anime still goes in, its batch stays as
                # it was (and, when none is stored yet, the next update asks again).
                self.recorder.error(f"batch {detail.batch.slug}: {exc}")
        if extra_episode is not None:
            episodes.append(extra_episode)
        bundle = AnimeBundle(detail, episodes, batch, release_day, failed_episodes=failed)
        counts = self._ingest(bundle)
        self.recorder.counts.add(counts)
        return counts

    def _is_new_batch(self, detail: AnimeDetail) -> bool:
        return (
            detail.batch is not None and not Batch.objects.filter(slug=detail.batch.slug).exists()
        )

    def _episode_pages(
        self,
        detail: AnimeDetail,
        *,
        refresh: bool,
        have: EpisodePage | None,
    ) -> tuple[list[EpisodePage], dict[str, str]]:
        """The episode pages to store with this anime, and the ones that failed (slug ->
        error). A refresh asks for every page; an update only for new episodes and for
        those still without their page's data whose next try is due."""
        slugs = [ref.slug for ref in detail.episodes if have is None or ref.slug != have.slug]
        listed = set(slugs)
        now = timezone.now()
        # One query: the listed episodes already stored, and this anime's episodes still
        # without their page's data (one the origin no longer lists is tried too while it
        # is due: its page may still be there; if not, its tries run out).
        stored = Episode.objects.filter(
            Q(slug__in=slugs) | Q(anime__slug=detail.slug, post_id__isnull=True)
        ).values_list("slug", "post_id", "page_attempts", "page_retry_at")
        due = {row[0] for row in stored if page_due(*row[1:], now)}
        if not refresh:
            known = {row[0] for row in stored}
            slugs = [s for s in slugs if s not in known or s in due]
        slugs += sorted(due - listed - ({have.slug} if have is not None else set()))
        pages = []
        failed: dict[str, str] = {}
        for slug in slugs:
            try:
                pages.append(self.parsed(f"/episode/{slug}/", parsers.parse_episode))
            except (ParseError, FetchError) as exc:
                # The anime and its other episodes still go in; this one keeps what it had
                # and, lacking its page's data, is tried again by a later update.
                self.recorder.error(f"episode {slug}: {exc}")
                failed[slug] = f"{type(exc).__name__}: {exc}"
        return pages, failed

    def _ingest(self, bundle: AnimeBundle) -> Counts:
        if not self.dry_run:
            return ingest_anime(bundle=bundle)
        with transaction.atomic():
            counts = ingest_anime(bundle=bundle)
            transaction.set_rollback(True)
        if counts.changed:
            self.changes.append(
                f"{bundle.detail.slug}: {counts.created} new, {counts.updated} changed"
            )
        return counts

    # ------------------------------------------------------------------ crawls

    def crawl_full(self, _slug: str | None = None) -> None:
        try:
            index = self.parsed("/anime-list/", parsers.parse_anime_list)
        except (ParseError, FetchError) as exc:
            raise CrawlError(f"anime list unavailable: {exc}") from exc
        days = self._release_days()
        refs = index.anime[: self.limit] if self.limit else index.anime
        self.total = len(refs)
        fresh = self._recently_scraped([r.slug for r in refs])
        # A recently scraped anime with an episode page due for another try is still
        # visited, as an update: its detail and only those pages.
        repair = fresh & set(anime_with_pages_due()) if fresh else set()
        for ref in refs:
            self.check_stop()
            if ref.slug in repair:
                self.crawl_anime(ref.slug, refresh_episodes=False, release_day=days.get(ref.slug))
            elif ref.slug in fresh:
                self.recorder.counts.unchanged += 1
            else:
                self.crawl_anime(ref.slug, refresh_episodes=True, release_day=days.get(ref.slug))
            self.done += 1
            self._report(ref.slug, note="anime")

    def _release_days(self) -> dict[str, str]:
        try:
            schedule = self.parsed("/jadwal-rilis/", parsers.parse_schedule)
        except (ParseError, FetchError) as exc:
            self.recorder.error(f"schedule: {exc}")
            return {}
        return {ref.slug: day.day for day in schedule.days for ref in day.anime}

    def _recently_scraped(self, slugs: list[str]) -> set[str]:
        if self.max_age is None:
            return set()
        since = timezone.now() - self.max_age
        recent: set[str] = set()
        for start in range(0, len(slugs), 500):
            recent.update(
                Anime.objects.filter(
                    slug__in=slugs[start : start + 500], last_scraped_at__gte=since
                ).values_list("slug", flat=True)
            )
        return recent

    def crawl_ongoing(self, _slug: str | None = None) -> None:
        validators = Validators()
        try:
            home = self._if_changed("/", parsers.parse_home, validators)
        except (ParseError, FetchError) as exc:
            raise CrawlError(f"home page unavailable: {exc}") from exc
        todo: dict[str, str | None] = {}
        # A 304 for home: nothing new since the last poll that stored everything (home
        # lists the newest ongoing episodes first), so the ongoing list is not asked for.
        if home is not None:
            self._collect(home.ongoing, todo, completed=False)
            self._collect(home.completed, todo, completed=True)
            self._ongoing_pages(todo, validators)
        # Anime whose cards show nothing new but that have an episode without its page's
        # data, due for another try (one query): crawl_anime fetches only those pages.
        for slug in anime_with_pages_due():
            todo.setdefault(slug, None)
        slugs = list(todo)[: self.limit] if self.limit else list(todo)
        self.total = len(slugs)
        for slug in slugs:
            self.check_stop()
            self.crawl_anime(slug, refresh_episodes=False, release_day=todo[slug])
            self.done += 1
            self._report(slug, note="anime")
        # Only now, and only when all the pages said was stored, are their validators kept.
        if not (self.recorder.errors or self.dry_run or len(slugs) < len(todo)):
            validators.save()

    def _if_changed(
        self, path: str, parser: Callable[[str, str], T], validators: Validators
    ) -> T | None:
        """``path`` parsed, asked for conditionally; None when the origin answers 304."""
        url = self.client.origin_url(path)
        page = self.fetch(path, validators.headers_for(url))
        validators.seen(url, page.status, page.headers)
        if page.status == 304:
            return None
        return self.read(path, page, parser)

    def _ongoing_pages(self, todo: dict[str, str | None], validators: Validators) -> None:
        """The ongoing list, page after page, until one shows nothing new."""
        page_no, last = 1, 1
        while page_no <= min(last, MAX_LIST_PAGES):
            path = "/ongoing-anime/" if page_no == 1 else f"/ongoing-anime/page/{page_no}/"
            try:
                listing = self._if_changed(path, parsers.parse_list_page, validators)
            except (ParseError, FetchError) as exc:
                self.recorder.error(f"ongoing page {page_no}: {exc}")
                break
            if listing is None or not self._collect(listing.cards, todo, completed=False):
                break
            page_no, last = page_no + 1, listing.last_page

    def _collect(
        self, cards: list[AnimeCard], todo: dict[str, str | None], *, completed: bool
    ) -> int:
        """Add the cards whose anime changed to `todo`; returns how many were new."""
        stored = {
            row["slug"]: row
            for row in Anime.objects.filter(slug__in=[c.slug for c in cards])
            .annotate(newest=Max("episodes__number"))
            .values("slug", "status", "newest", "release_day")
        }
        new = 0
        for card in cards:
            row = stored.get(card.slug)
            changed = (
                row is None
                or (completed and row["status"] != Anime.Status.COMPLETED)
                or (
                    not completed
                    and card.episode_number is not None
                    and (row["newest"] is None or card.episode_number > row["newest"])
                )
            )
            if changed and card.slug not in todo:
                todo[card.slug] = card.day
                new += 1
        return new

    def crawl_one_anime(self, slug: str) -> None:
        self.total = 1
        if self.crawl_anime(slug, refresh_episodes=True) is None:
            raise CrawlError(self.recorder.errors[-1])

    def crawl_episode(self, slug: str) -> None:
        try:
            page = self.parsed(f"/episode/{slug}/", parsers.parse_episode)
        except (ParseError, FetchError) as exc:
            raise CrawlError(f"episode {slug}: {exc}") from exc
        if not page.anime_slug:
            raise CrawlError(f"episode {slug}: the page names no anime")
        self.total = 1
        # One episode: its anime's detail too (the episode list, the anime's fields), but
        # not the pages of the other episodes.
        stored = self.crawl_anime(
            page.anime_slug, refresh_episodes=False, extra_episode=page, other_episodes=False
        )
        if stored is None:
            raise CrawlError(f"anime {page.anime_slug} of episode {slug} could not be stored")
        self.done = 1


# The crawl kinds: what `scrape KIND` and crawl_task(KIND) run. "anime" and "episode"
# need a slug.
_CRAWLS: dict[str, Callable[[Crawler, str], None]] = {
    "full": Crawler.crawl_full,
    "ongoing": Crawler.crawl_ongoing,
    "anime": Crawler.crawl_one_anime,
    "episode": Crawler.crawl_episode,
}
KINDS = tuple(_CRAWLS)
_NEEDS_SLUG = frozenset({"anime", "episode"})


def run_crawl(
    kind: str,
    *,
    base_url: str | None = None,
    slug: str | None = None,
    limit: int | None = None,
    max_age: datetime.timedelta | None = None,
    dry_run: bool = False,
    progress: ProgressFn | None = None,
    client: OriginClient | None = None,
    run: ScrapeRun | None = None,
    should_stop: Callable[[], str | None] | None = None,
) -> CrawlResult:
    """Run one crawl and return what it did (its ScrapeRun is unsaved in a dry run).

    Raises CrawlError (run marked failed) on a fatal error, CrawlStopped (run marked
    interrupted) once ``should_stop`` gives a reason, and re-raises KeyboardInterrupt (run
    marked interrupted; the anime being written is rolled back as a whole). ``run`` is the
    running ScrapeRun of a claim (scraper.runs.claim) to record into.
    """
    crawl = _CRAWLS.get(kind)
    if crawl is None:
        raise ValueError(f"unknown crawl kind {kind!r}; expected one of {', '.join(KINDS)}")
    if kind in _NEEDS_SLUG and not slug:
        raise ValueError(f"crawl {kind} needs a slug")
    own_client = client is None
    # A dry run writes nothing: it follows only a move adopted already.
    client = client or make_client(
        base_url, **({"verify_move": origin.is_adopted} if dry_run else {})
    )
    arguments = {"slug": slug, "limit": limit, "max_age": max_age and max_age.total_seconds()}
    arguments = {k: v for k, v in arguments.items() if v is not None}
    recorder = RunRecorder(kind, arguments, client.base_url, dry_run, run=run)
    crawler = Crawler(
        client,
        recorder,
        dry_run=dry_run,
        limit=limit,
        max_age=max_age,
        progress=progress,
        should_stop=should_stop,
    )
    try:
        _run_recorded(crawl, crawler, slug or "")
    except CrawlError as exc:
        crawler.watch.finish(exc)
        raise
    finally:
        if own_client:
            client.close()
    # Pages that failed (recorded as errors: an episode, a batch, an anime's detail...)
    # make the run partial, so the admin, the command's exit code and the task say so.
    status = ScrapeRun.Status.PARTIAL if recorder.errors else ScrapeRun.Status.OK
    run = recorder.finish(status, client)
    crawler.watch.finish(None)
    return CrawlResult.from_run(run, crawler.changes)


def _run_recorded(crawl: Callable[[Crawler, str], None], crawler: Crawler, slug: str) -> None:
    """Run ``crawl``; a stop or a fatal error ends the run's record before it propagates."""
    recorder, client = crawler.recorder, crawler.client
    try:
        crawl(crawler, slug)
    except KeyboardInterrupt:
        recorder.error("interrupted (Ctrl-C)")
        recorder.finish(ScrapeRun.Status.INTERRUPTED, client)
        raise
    except CrawlStopped as exc:
        recorder.error(f"interrupted: {exc}")
        exc.result = CrawlResult.from_run(recorder.finish(ScrapeRun.Status.INTERRUPTED, client))
        raise
    except (CrawlError, ClientError) as exc:
        recorder.error(f"fatal: {exc}")
        recorder.finish(ScrapeRun.Status.FAILED, client)
        if isinstance(exc, CrawlError):
            raise  # as it is: its cause (a FetchError, a ParseError) tells the alerts which
        raise CrawlError(str(exc)) from exc
