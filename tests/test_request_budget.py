"""One request budget per origin host, shared by every process and thread (issue 11, item 6).

The origin used to see the configured rate once per client: every viewer's mirror request
built a client with a limiter of its own, beside the worker's crawl. These tests count what
reaches the (fake) origin per sliding second, in threads of one process, in two processes
on one Redis, and through the real site: gunicorn serving viewers while ``manage.py scrape
full`` crawls. They also check that viewers go first and get a quick answer when the
budget is spent, and that the clearance cookie jar is shared without a stale copy winning.
"""

from __future__ import annotations

import datetime
import json
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from catalog.models import EmbedHost, StreamLink
from scraper.client import FetchError
from scraper.client_factory import make_client
from tests.fake_origin import FakeOrigin
from tests.pipeline_helpers import fast_client
from tests.procs import (
    PYTHON,
    REPO_ROOT,
    manage,
    prepare_site,
    running,
    site_env,
    start_gunicorn,
    start_manage,
    start_mariadb,
    start_redis,
    wait_until,
)

_IN_PROCESS = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
LOCMEM = {  # no Redis: the budget is this process's, the jar the cookie file
    "default": {**_IN_PROCESS, "LOCATION": "budget-tests"},
    "coordination": {**_IN_PROCESS, "LOCATION": "budget-tests-coordination"},
}
AJAX = "/wp-admin/admin-ajax.php"


def busiest_second(times: list[float], width: float = 1.0) -> int:
    """The most requests in any window [t, t + width) (sliding over the request times)."""
    ordered = sorted(times)
    best = start = 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - width:
            start += 1
        best = max(best, end - start + 1)
    return best


def assert_paced(times: list[float], rate: float) -> None:
    """The requests were spread at the rate: slots are 1/rate s apart, so n requests span
    at least (n - 1)/rate s (a fifth off for a first sender the busy machine delayed:
    delays only ever stretch the span), and no second holds more than twice the rate (a
    descheduled sender arrives next to the following ones)."""
    ordered = sorted(times)
    span = ordered[-1] - ordered[0]
    assert span >= 0.8 * (len(ordered) - 1) / rate, f"{len(ordered)} requests in {span:.2f} s"
    assert busiest_second(ordered) <= 2 * rate, busiest_second(ordered)


def _busiest_window(log: list[Any], since: float) -> str:
    """The requests of the busiest second, for the failure message."""
    rows = sorted((r for r in log if r.at >= since), key=lambda r: r.at)
    best: list[Any] = []
    for i, first in enumerate(rows):
        window = [r for r in rows[i:] if r.at < first.at + 1.0]
        if len(window) > len(best):
            best = window
    return "\n".join(f"{r.at - best[0].at:.3f} {r.method} {r.path} {r.status}" for r in best)


def origin_times(origin: FakeOrigin, since: float = 0.0) -> list[float]:
    host = origin.base_url.split("://", 1)[1]
    return [r.at for r in origin.requests if r.host == host and r.at >= since]


def run_threads(count: int, target: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def guarded(n: int) -> None:
        try:
            target(n)
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


@pytest.fixture
def origin() -> Iterator[FakeOrigin]:
    with FakeOrigin(seed=3, size=6) as fake:
        yield fake


# --------------------------------------------------------------------------- one process


@pytest.mark.parametrize("store", ["process", "redis"])
def test_clients_in_many_threads_share_one_budget(
    origin: FakeOrigin, settings: Any, store: str
) -> None:
    """Six threads, each with its own client as each web request has, stay within the one
    rate together (within this process, or on Redis when it is configured)."""
    if store == "process":
        settings.CACHES = LOCMEM
    elif not settings.CACHES["default"]["BACKEND"].startswith("django_redis"):
        pytest.skip("REDIS_URL is not set")
    rate = 10

    def browse(_n: int) -> None:
        with make_client(origin.base_url, rate=rate, cookie_path=None) as client:
            for _ in range(5):
                client.get("/")

    run_threads(6, browse)
    times = origin_times(origin)
    assert len(times) == 30
    assert_paced(times, rate)


# --------------------------------------------------------------------------- two processes

_PROCESS_SCRIPT = """
import sys, threading, django
django.setup()
from scraper.client_factory import make_client
base, rate = sys.argv[1], float(sys.argv[2])
def browse():
    with make_client(base, rate=rate, cookie_path=None) as client:
        for _ in range(5):
            client.get("/")
threads = [threading.Thread(target=browse) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
print("done")
"""


@pytest.mark.operation
def test_two_processes_share_one_budget_on_redis(origin: FakeOrigin, tmp_path: Path) -> None:
    """A web process and a worker process on one Redis: their requests together keep the
    rate (each process alone used to send the whole rate)."""
    redis = start_redis(tmp_path)
    env = site_env(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        redis_url=redis.url(),
        CACHE_KEY_PREFIX="budget-two",
    )
    rate = 8
    with running(redis):
        procs = [
            subprocess.Popen(
                [PYTHON, "-c", _PROCESS_SCRIPT, origin.base_url, str(rate)],
                cwd=REPO_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    times = origin_times(origin)
    assert len(times) == 40
    assert_paced(times, rate)


# --------------------------------------------------------------------------- lanes


def test_viewer_lane_goes_before_the_crawl_and_never_queues_long() -> None:
    """The rule itself, on a clock the test moves: viewers reserve the next slot; the
    crawl only takes a slot that is free now and, while viewers are around, leaves half of
    the budget to them; a viewer who would wait longer than allowed reserves nothing."""
    from scraper.budget import Lane, LocalBudget

    now = [100.0]
    budget = LocalBudget(clock=lambda: now[0], viewer_share=0.5)
    host, interval = "origin:80", 0.25  # binary fractions: the sums below are exact

    def take(lane: Lane, max_wait: float | None = None) -> tuple[bool, float]:
        grant = budget.take(host, interval=interval, lane=lane, max_wait=max_wait)
        return grant.granted, grant.wait

    assert take(Lane.CRAWL) == (True, 0.0)  # nobody else: the crawl uses the whole rate
    assert take(Lane.CRAWL) == (False, 0.25)
    # Three viewers arrive at once: they queue one slot apart, ahead of the crawl.
    assert [take(Lane.VIEWER, 2.5) for _ in range(3)] == [(True, 0.25), (True, 0.5), (True, 0.75)]
    now[0] += 0.25
    assert take(Lane.CRAWL) == (False, 0.75)  # queued viewers go first
    # Viewers queue up to 2.5 s ahead; the next one is told when to come back and
    # reserves nothing.
    queued = 0
    while take(Lane.VIEWER, 2.5)[0] and queued < 50:
        queued += 1
    assert queued == 8
    assert take(Lane.VIEWER, 2.5) == (False, 2.75)
    # Once the queue has drained the crawl goes on, at half the rate while viewers are
    # around, so a viewer arriving then finds a free slot at once...
    now[0] += 2.75
    assert take(Lane.CRAWL) == (True, 0.0)
    now[0] += interval
    assert take(Lane.CRAWL) == (False, 0.25)
    assert take(Lane.VIEWER, 2.5) == (True, 0.0)
    # ...and at the whole rate again once they are gone.
    now[0] += 60
    assert take(Lane.CRAWL) == (True, 0.0)
    now[0] += interval
    assert take(Lane.CRAWL) == (True, 0.0)


def test_redis_budget_follows_the_same_rule(settings: Any) -> None:
    if not settings.CACHES["default"]["BACKEND"].startswith("django_redis"):
        pytest.skip("REDIS_URL is not set")
    from scraper.budget import Lane, RedisBudget, shared_budget

    budget = shared_budget()
    assert isinstance(budget, RedisBudget)
    host = f"redis-rule-{time.monotonic_ns()}:80"
    interval = 10.0  # long, so the Redis round trips do not matter to the waits

    def take(lane: Lane, max_wait: float | None = None) -> tuple[bool, float]:
        grant = budget.take(host, interval=interval, lane=lane, max_wait=max_wait)
        return grant.granted, grant.wait

    assert take(Lane.CRAWL) == (True, 0.0)
    granted, wait = take(Lane.CRAWL)
    assert not granted
    assert 9 < wait <= 10
    granted, wait = take(Lane.VIEWER, 30)  # a viewer reserves the next slot...
    assert granted
    assert 9 < wait <= 10
    granted, wait = take(Lane.CRAWL)  # ...which the crawl then waits behind
    assert not granted
    assert 19 < wait <= 20
    granted, wait = take(Lane.VIEWER, 2.5)  # too far away: nothing reserved
    assert not granted
    assert 19 < wait <= 20
    budget.penalize(host, 100)  # the origin said Retry-After: 100
    granted, wait = take(Lane.VIEWER, 30)
    assert not granted
    assert 99 < wait <= 100


# --------------------------------------------------------------------------- the view


@pytest.mark.django_db
def test_viewer_gets_a_fast_busy_answer_with_the_cached_embed(
    origin: FakeOrigin, settings: Any
) -> None:
    """The origin told the crawl to wait 60 s (429 + Retry-After). A viewer switching to a
    mirror resolved yesterday gets the old embed at once, a 503 with Retry-After and an
    Indonesian message; the origin is not asked. A mirror never resolved gets the same
    answer without a URL."""
    with fast_client(origin.base_url) as client:
        from scraper.crawl import run_crawl

        run_crawl("full", client=client, limit=1)
    settings.OTAKUDESU_BASE_URL = origin.base_url
    old, never = StreamLink.objects.order_by("pk")[:2]
    embed = f"http://localhost:{origin.port}/embed/lama/1"
    StreamLink.objects.filter(pk=old.pk).update(
        embed_url=embed, resolved_at=timezone.now() - datetime.timedelta(days=1)
    )
    EmbedHost.objects.update_or_create(host=f"localhost:{origin.port}", defaults={"approved": True})

    origin.faults(rate=1.0, kinds=["429"], retry_after=60, max_consecutive=1)
    with (
        make_client(origin.base_url, retries=0, cookie_path=None) as crawl,
        pytest.raises(FetchError),
    ):
        crawl.get("/ongoing-anime/")
    origin.faults(rate=0)
    origin.reset_log()

    viewer = Client()
    started = time.monotonic()
    answer = viewer.get(f"/api/mirror/{old.pk}/")
    elapsed = time.monotonic() - started
    assert answer.status_code == 503
    assert 50 <= int(answer["Retry-After"]) <= 60
    data = answer.json()
    assert data["ok"] is True
    assert data["url"] == embed
    assert data["busy"] is True
    assert "sibuk" in data["error"]
    # Not after waiting out the origin's 50 s pause (a generous bound for a busy machine).
    assert elapsed < 10.0
    none = viewer.get(f"/api/mirror/{never.pk}/")
    assert none.status_code == 503
    assert none.json()["ok"] is False
    assert "url" not in none.json()
    assert origin.requests == []  # nobody asked the origin while it said wait
    never.refresh_from_db()
    assert never.last_error == ""  # the mirror is not broken, the budget was spent


# --------------------------------------------------------------------------- cookie jar


@pytest.mark.parametrize("store", ["file", "redis"])
def test_fresh_clearance_is_not_overwritten_by_a_stale_web_copy(
    origin: FakeOrigin, settings: Any, tmp_path: Path, store: str
) -> None:
    """A web request's client loaded the jar before the worker solved a challenge. When it
    finishes (saving its jar), the worker's fresh clearance must survive, and every client
    from then on, the stale one included, sends it with the browser's User-Agent."""
    if store == "file":
        settings.CACHES = LOCMEM
    elif not settings.CACHES["default"]["BACKEND"].startswith("django_redis"):
        pytest.skip("REDIS_URL is not set")
    settings.SCRAPER_COOKIE_PATH = tmp_path / "cookies.json"
    browser_ua = "Mozilla/5.0 (X11; Linux x86_64) Chrome/150.0.0.0 Safari/537.36"

    def client() -> Any:
        return make_client(origin.base_url, rate=None)

    with client() as first:
        first.set_clearance({"cf_clearance": "lama"}, "Mozilla/5.0 Chrome/140.0.0.0")
    web = client()  # holds the old clearance
    with client() as worker:
        worker.set_clearance({"cf_clearance": "baru"}, browser_ua)
    web.get("/")  # the web request goes on after the solve...
    web.close()  # ...and saves its jar
    origin.reset_log()
    with client() as later:
        later.get("/")
    sent = origin.requests
    assert len(sent) == 1
    with client() as check:
        assert check.user_agent == browser_ua
        cookies = check.cookies()
    assert cookies["cf_clearance"] == "baru"


@pytest.mark.parametrize("store", ["file", "redis"])
def test_running_client_picks_up_a_clearance_solved_elsewhere(
    settings: Any, tmp_path: Path, store: str
) -> None:
    """A client that is already running (a crawl) sends the clearance another process just
    solved with its very next request, and the User-Agent it is bound to."""
    if store == "file":
        settings.CACHES = LOCMEM
    elif not settings.CACHES["default"]["BACKEND"].startswith("django_redis"):
        pytest.skip("REDIS_URL is not set")
    from tests.http_helpers import Reply, scripted_server

    settings.SCRAPER_COOKIE_PATH = tmp_path / "cookies.json"
    with scripted_server() as server:
        server.default("/", Reply(200, "<html>ok</html>"))
        running_client = make_client(server.base_url, rate=None)
        running_client.get("/")
        with make_client(server.base_url, rate=None) as solver:
            solver.set_clearance({"cf_clearance": "segar"}, "Mozilla/5.0 Chrome/151.0.0.0")
        running_client.get("/")
        running_client.close()
        last = server.seen("/")[-1].headers
    assert last.get("cookie") == "cf_clearance=segar"
    assert last["user-agent"] == "Mozilla/5.0 Chrome/151.0.0.0"


@pytest.mark.parametrize("store", ["file", "redis"])
def test_no_second_browser_when_another_process_just_solved_the_challenge(
    settings: Any, tmp_path: Path, store: str
) -> None:
    """Both workers meet the challenge; the first solves it in a browser. The second,
    whose request was challenged before that, takes the shared clearance instead of
    opening a browser of its own (the per-process solve guard knew nothing of the first)."""
    if store == "file":
        settings.CACHES = LOCMEM
    elif not settings.CACHES["default"]["BACKEND"].startswith("django_redis"):
        pytest.skip("REDIS_URL is not set")
    from scraper.solver import Clearance, reset_state, solve_challenge

    settings.SCRAPER_COOKIE_PATH = tmp_path / "cookies.json"
    opened: list[str] = []

    def browser(url: str, timeout: float, executable: str) -> Clearance:
        opened.append(url)
        return Clearance([{"name": "cf_clearance", "value": "dari-peramban"}], "Mozilla/5.0 X")

    base = "http://127.0.0.1:9"
    second = make_client(base, rate=None)  # already running, challenged
    with make_client(base, rate=None) as first:
        solve_challenge(first, base + "/", browser=browser, min_interval=600)
    reset_state()  # the second worker is another process: it never saw that solve
    solve_challenge(second, base + "/", browser=browser, min_interval=600)
    assert opened == [base + "/"]
    assert second.cookie("cf_clearance") == "dari-peramban"
    assert second.user_agent == "Mozilla/5.0 X"
    second.close()


def test_cookie_file_written_by_older_code_is_read(tmp_path: Path, settings: Any) -> None:
    settings.CACHES = LOCMEM
    jar = tmp_path / "cookies.json"
    jar.write_text(
        json.dumps([{"name": "sesi", "value": "v1", "domain": "127.0.0.1", "path": "/"}])
    )
    settings.SCRAPER_COOKIE_PATH = jar
    with make_client("http://127.0.0.1:9", rate=None) as client:
        assert client.cookies() == {"sesi": "v1"}


# --------------------------------------------------------------------------- the real site


def _mirror_ids(env: dict[str, str], count: int) -> list[int]:
    out = manage(
        env,
        "shell",
        "-c",
        "from catalog.models import StreamLink; "
        f"print(list(StreamLink.objects.order_by('pk').values_list('pk', flat=True)[:{count}]))",
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.operation
def test_crawl_and_viewers_together_keep_the_origins_rate(tmp_path: Path) -> None:
    """The situation of the issue, through real processes: ``manage.py scrape full`` crawls
    while gunicorn (2 workers) serves 20 viewers switching mirrors at once. The origin
    never gets more than SCRAPER_RATE_LIMIT requests in a second (plus one burst); every
    viewer is answered within seconds, the ones the budget cannot serve soon with a quick
    503 + Retry-After; and viewers get slots while the crawl runs (they go first)."""
    rate = 5
    mariadb = start_mariadb(tmp_path)
    redis = start_redis(tmp_path)
    with running(mariadb, redis), FakeOrigin(seed=11, size=40) as origin:
        env = site_env(
            tmp_path,
            database_url=mariadb.url("site"),
            redis_url=redis.url(),
            OTAKUDESU_BASE_URL=origin.base_url,
            SCRAPER_RATE_LIMIT=str(rate),
            EMBED_HOSTS_ALLOWED=f"localhost:{origin.port}",
            Q_WORKERS="1",
        )
        prepare_site(env)
        manage(env, "scrape", "full", "--limit", "4")  # some episodes and their mirrors
        mirror_ids = _mirror_ids(env, 90)
        assert len(mirror_ids) == 90
        # 24 requests at once: more viewers than the budget can serve within 2.5 s.
        web = start_gunicorn(env, tmp_path, workers=2, GUNICORN_THREADS="12")
        crawl = start_manage(env, tmp_path, "scrape", "full", name="crawl")
        with running(crawl, web):
            started = time.monotonic()
            # The crawl is under way once it has fetched a few pages of its own.
            wait_until(
                lambda: len(origin_times(origin, since=started)) >= 10,
                "the crawl requests pages",
                process=crawl.process,
            )
            answers: list[tuple[int, float, httpx.Response]] = []
            lock = threading.Lock()
            queue = list(mirror_ids)

            def viewer(_n: int) -> None:
                with httpx.Client(base_url=web.url, headers={"Host": "localhost"}) as http:
                    while True:
                        with lock:
                            if not queue:
                                return
                            link_id = queue.pop()
                        t0 = time.monotonic()
                        response = http.get(f"/api/mirror/{link_id}/", timeout=60)
                        with lock:
                            answers.append((link_id, time.monotonic() - t0, response))

            viewers_from = time.monotonic()
            run_threads(20, viewer)
            viewers_until = time.monotonic()
            assert crawl.process.poll() is None, "the crawl ran the whole time"

    log = [r for r in origin.requests if r.host == origin.base_url.split("://", 1)[1]]
    during = [r for r in log if viewers_from <= r.at <= viewers_until]
    times = [r.at for r in log if r.at >= started]
    # The origin's view, crawl and viewers together. Slots are spaced 1/rate apart, but a
    # sender the busy machine deschedules after its slot arrives late, next to the following
    # ones: so the sustained rate is checked over 5 s (one burst allowed) and a single
    # second only against twice the rate (today's main sent 46 in one second).
    assert busiest_second(times, width=5.0) <= 5 * rate + 2, _busiest_window(log, started)
    assert busiest_second(times) <= 2 * rate, _busiest_window(log, started)

    statuses = sorted({a[2].status_code for a in answers})
    assert set(statuses) <= {200, 503}, statuses
    slowest = max(a[1] for a in answers)
    # Seconds, never the minutes of a queue (a viewer waits at most 2.5 s for a slot; the
    # rest is a loaded machine answering 20 viewers at once).
    assert slowest < 15, f"a viewer waited {slowest:.1f}s"
    served = [a for a in answers if a[2].status_code == 200]
    busy = [a for a in answers if a[2].status_code == 503]
    for _link, _elapsed, response in busy:
        assert int(response.headers["Retry-After"]) >= 1
        assert "sibuk" in response.json()["error"]
    # Over budget is answered within the viewer's wait (2.5 s), not after a queue.
    if busy:
        assert statistics.median(a[1] for a in busy) < 3.0
    # Viewers got slots while the crawl was running, more of them than the crawl did.
    viewer_requests = sum(1 for r in during if r.method == "POST" and r.path == AJAX)
    crawl_requests = sum(1 for r in during if r.method == "GET")
    print(  # the numbers behind the assertions, shown with a failure
        f"busiest second {busiest_second(times)}, served {len(served)}, busy {len(busy)}, "
        f"slowest {slowest:.2f}s, viewer requests {viewer_requests}, crawl {crawl_requests}"
    )
    assert len(served) >= 5, (len(served), len(busy))
    assert viewer_requests >= crawl_requests, (viewer_requests, crawl_requests)
    assert crawl_requests >= 1
    # The admin-ajax nonce is shared by both gunicorn workers through the cache and fetched
    # once for the burst (not once per worker or per waiting viewer): every other POST
    # resolved a mirror a viewer got.
    assert viewer_requests - len(served) <= 2, (viewer_requests, len(served))
