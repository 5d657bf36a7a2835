"""Issue 11 item 12: a query string must not mint cache entries, and the cache Redis is
bounded and kept apart from the task broker's data.

Through real gunicorn (deploy/gunicorn.conf.py) and a private Redis: 2,000 requests with
odd query strings add at most a handful of keys; the Compose file's cache Redis has a
memory limit and an LRU policy while the broker's never evicts; a cache Redis started with
the shipped settings and filled past its limit keeps serving while the broker's keys stay.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.edge_helpers import (
    COMPOSE_FILE,
    compose_services,
    crawled_site_env,
    option,
    redis_bytes,
    redis_command_args,
)
from tests.fake_origin import FakeOrigin
from tests.procs import Redis, Web, running, start_gunicorn, start_redis


@dataclass
class Site:
    web: Web
    cache: Redis
    broker: Redis
    anime_slug: str
    env: dict[str, str]


def dbsize(redis: Redis, db: int = 0) -> int:
    import redis as redis_py

    client = redis_py.Redis(port=redis.port, db=db, socket_timeout=10)
    try:
        return int(client.dbsize())
    finally:
        client.close()


def cache_redis_args() -> list[str]:
    """The shipped cache Redis settings (docker-compose.yml) that matter for these tests."""
    args = redis_command_args(compose_services()["redis-cache"])
    return ["--maxmemory", option(args, "maxmemory") or "", "--maxmemory-policy",
            option(args, "maxmemory-policy") or ""]  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp_path = tmp_path_factory.mktemp("cachekeys")
    broker = start_redis(tmp_path)
    cache = start_redis(tmp_path)
    with running(broker, cache), FakeOrigin(seed=3, size=12) as origin:
        env = crawled_site_env(
            tmp_path,
            origin.base_url,
            REDIS_URL=broker.url(0),
            CACHE_REDIS_URL=cache.url(0),
        )
        web = start_gunicorn(env, tmp_path, workers=2)
        with running(web):
            yield Site(web, cache, broker, sorted(origin.truth.anime)[0], env)


def odd_urls(anime_slug: str, count: int) -> Iterator[str]:
    """What crawlers, ad trackers and cache-busters send: the same pages under ever new
    query strings, plus equivalent spellings of the parameters pages do read."""
    pages = [
        "/?v={n}",
        "/ongoing/?utm_source=x{n}",
        "/ongoing/?page=1&fbclid={n}",
        "/ongoing/?page=0001&v={n}",
        "/completed/?_={n}",
        f"/anime/{anime_slug}/?v={{n}}",
        "/genres/?ref={n}",
        "/jadwal/?x={n}&y={n}",
        "/search/?q=%20{spaces}Pedang{spaces}&v={n}",
        "/search/?q=PEDANG&amp;{n}",
    ]
    for n in range(count):
        template = pages[n % len(pages)]
        yield template.format(n=n, spaces=" " * (n % 3))


@pytest.mark.operation
def test_odd_query_strings_add_at_most_a_handful_of_cache_keys(site: Site) -> None:
    with httpx.Client(base_url=site.web.url, headers={"Host": "localhost"}, timeout=30) as c:
        # Each distinct page once, so its entry exists before counting.
        for url in list(odd_urls(site.anime_slug, 10)):
            assert c.get(url).status_code == 200, url
        # Both servers: wherever the pages land, what counts is what the 2,000 requests add.
        before = dbsize(site.cache) + dbsize(site.broker)
        statuses = [c.get(url).status_code for url in odd_urls(site.anime_slug, 2000)]
        after = dbsize(site.cache) + dbsize(site.broker)
    assert statuses.count(200) == len(statuses), sorted(set(statuses))
    assert after - before <= 5, f"2,000 odd query strings added {after - before} cache keys"


@pytest.mark.operation
def test_missing_pages_and_bad_page_numbers_add_no_cache_keys(site: Site) -> None:
    """404s are not cached per URL either: made-up slugs and page numbers cost no key."""

    def missing(n: int) -> list[str]:
        return [
            f"/anime/no-such-anime-{n}/",
            f"/episode/no-such-episode-{n}/?v={n}",
            f"/genres/no-such-genre-{n}/",
            f"/ongoing/?page={n + 1000}",
            f"/search/?q=pedang&page=x{n}",
        ]

    with httpx.Client(base_url=site.web.url, headers={"Host": "localhost"}, timeout=30) as c:
        for url in missing(0):
            c.get(url)
        before = dbsize(site.cache) + dbsize(site.broker)
        statuses = {c.get(url).status_code for n in range(1, 101) for url in missing(n)}
        after = dbsize(site.cache) + dbsize(site.broker)
    assert statuses == {404}
    assert after - before <= 5, f"500 missing pages added {after - before} cache keys"


@pytest.mark.operation
def test_a_strangers_query_string_is_not_echoed_in_the_shared_page(site: Site) -> None:
    page = site.web.get("/ongoing/?page=1&tracker=stranger-value").text
    assert "stranger-value" not in page
    # The page a later viewer gets from the cache does not carry it either.
    assert "stranger-value" not in site.web.get("/ongoing/").text
    assert "stranger-value" not in site.web.get("/ongoing/?other=1").text


@pytest.mark.operation
def test_page_numbers_stay_distinct_and_invalid_ones_are_404(site: Site) -> None:
    first = site.web.get("/completed/?page=1").text
    assert site.web.get("/completed/?page=001").text == first
    for bad in ("abc", "0", "-1", "1.5", "99999999999"):
        assert site.web.get(f"/completed/?page={bad}").status_code == 404, bad


@pytest.mark.operation
def test_search_spellings_share_one_entry(site: Site) -> None:
    site.web.get("/search/?q=robot")
    before = dbsize(site.cache) + dbsize(site.broker)
    for spelling in ("Robot", " robot ", "ROBOT", "robot&x=1", "robot&page=1"):
        assert site.web.get(f"/search/?q={spelling}").status_code == 200
    assert dbsize(site.cache) + dbsize(site.broker) - before <= 1


@pytest.mark.operation
def test_the_cache_and_the_broker_live_in_separate_redis(site: Site) -> None:
    """Pages go to CACHE_REDIS_URL, not to the broker's Redis (REDIS_URL)."""
    site.web.get("/jadwal/?sep=1")
    assert dbsize(site.cache) > 0
    broker_keys = site.broker.cli("KEYS", "*page:*")
    assert "page:" not in broker_keys


def test_compose_bounds_the_cache_redis_and_never_evicts_the_broker() -> None:
    services = compose_services()
    assert {"redis", "redis-cache"} <= set(services), sorted(services)
    cache_args = redis_command_args(services["redis-cache"])
    broker_args = redis_command_args(services["redis"])
    # A limit (0 would mean none) that leaves room for a useful cache.
    assert redis_bytes(option(cache_args, "maxmemory") or "0") >= 32 * 1024**2, cache_args
    assert option(cache_args, "maxmemory-policy") in {"allkeys-lru", "allkeys-lfu"}
    assert option(broker_args, "maxmemory-policy") == "noeviction"
    text = COMPOSE_FILE.read_text()
    # web and worker: cache on the bounded Redis, broker on the other one.
    assert "CACHE_REDIS_URL: redis://redis-cache:6379/0" in text
    assert "REDIS_URL: redis://redis:6379/0" in text


@pytest.mark.operation
def test_a_full_cache_redis_keeps_serving_and_the_broker_keeps_its_keys(
    tmp_path: Path,
) -> None:
    """Fill a cache Redis started with the shipped limit (scaled down to 4 MB so the test
    stays cheap) far past it: pages still answer 200, nothing is refused, and the broker's
    queue (another Redis) is untouched."""
    args = cache_redis_args()
    assert args[3] in {"allkeys-lru", "allkeys-lfu"}
    cache = start_redis(tmp_path, extra_args=["--maxmemory", "4mb", "--maxmemory-policy", args[3]])
    broker = start_redis(tmp_path, extra_args=["--maxmemory-policy", "noeviction"])
    with running(cache, broker), FakeOrigin(seed=4, size=4) as origin:
        import redis as redis_py

        queue = redis_py.Redis(port=broker.port, socket_timeout=10)
        queue.rpush("django_q:otakusite:q", *[f"task-{i}" for i in range(100)])
        env = crawled_site_env(
            tmp_path, origin.base_url, REDIS_URL=broker.url(0), CACHE_REDIS_URL=cache.url(0)
        )
        filler = redis_py.Redis(port=cache.port, socket_timeout=10)
        blob = b"x" * 65536
        for i in range(200):  # ~13 MB into a 4 MB cache: LRU evicts instead of refusing
            filler.set(f"filler:{i}", blob)
        assert int(filler.info("memory")["used_memory"]) <= 6 * 1024 * 1024
        web = start_gunicorn(env, tmp_path, workers=1)
        with running(web):
            for path in ("/", "/ongoing/", "/jadwal/", "/genres/", "/anime/"):
                assert web.get(path).status_code == 200, path
            for i in range(200):
                filler.set(f"filler2:{i}", blob)
            assert web.get("/completed/").status_code == 200
            assert "OOM" not in web.log_text()
        assert queue.llen("django_q:otakusite:q") == 100
        assert int(filler.info("stats")["evicted_keys"]) > 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_for_a_changed_page_render_it_once_per_process(
    sample: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When a crawl changes the catalogue, every viewer asking for the home page at that
    moment used to render it (the load test: home page p99 1.7 s, timeouts, while
    crawling). Threads of one process now wait for the one render and reuse it."""
    import threading

    from django.db import connection
    from django.test import RequestFactory

    from catalog import pagecache, views
    from catalog import selectors as sel

    threads_n = 8
    lookups = threading.Semaphore(0)
    release = threading.Event()
    builds: list[int] = []
    real_lookup, real_newest = pagecache.lookup, sel.newest_episodes

    def counting_lookup(*args: object, **kwargs: object) -> object:
        lookups.release()
        return real_lookup(*args, **kwargs)  # type: ignore[arg-type]

    def slow_newest(*args: object, **kwargs: object) -> object:
        builds.append(1)
        # Hold the render until every thread has looked for the page (bounds a hang only).
        assert release.wait(timeout=60)
        return real_newest(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pagecache, "lookup", counting_lookup)
    # The wait is bounded at 1 s (a stuck build must not hold everybody); here the bound
    # only bounds a hang, so a slow test database cannot make threads build on their own.
    monkeypatch.setattr(pagecache, "BUILD_WAIT_SECONDS", 60)
    monkeypatch.setattr(sel, "newest_episodes", slow_newest)
    statuses: list[int] = []

    def viewer() -> None:
        try:
            statuses.append(views.home(RequestFactory().get("/")).status_code)
        finally:
            connection.close()

    workers = [threading.Thread(target=viewer) for _ in range(threads_n)]
    for worker in workers:
        worker.start()
    for _ in range(threads_n):  # each thread's first look into the cache
        assert lookups.acquire(timeout=60)
    release.set()
    for worker in workers:
        worker.join(timeout=120)
    assert statuses == [200] * threads_n
    assert len(builds) == 1, f"the home page was rendered {len(builds)} times at once"
