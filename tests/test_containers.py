"""The shipped deployment, built and run as an operator would: the Dockerfile's images and
the unchanged docker-compose.yml under podman-compose, with stand-ins for the official
database, Redis and nginx images (tests/containers/). A crawl of the fake origin runs in the
worker container; pages are read through nginx; every service is stopped and started again,
the whole project taken down and brought back, and nothing a viewer sees or the database
holds may change.

Needs root, podman, buildah, mmdebstrap, runc, iptables (.ci/run installs them); skipped
elsewhere. The first run on a machine makes the Debian base and the stand-ins (kept for
later runs); every run builds the app images and removes them at the end.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.containers import images
from tests.containers.stack import Stack
from tests.fake_origin.catalog import Anime, Catalog, Episode, generate_catalog
from tests.procs import wait_until

pytestmark = [
    pytest.mark.containers,
    pytest.mark.skipif(images.tools_missing() is not None, reason=str(images.tools_missing())),
]

# nginx answers from its cache while gunicorn is away only with a stale-serving cache in
# its config; without one, pages are down while web restarts (and come back after).
NGINX_CONF = (images.REPO_ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
NGINX_SERVES_STALE = "proxy_cache_use_stale" in NGINX_CONF
# nginx looks `web` up again while running only with a resolver in its config; otherwise it
# keeps the address it found at start, and podman gives a restarted container another one.
NGINX_RERESOLVES = re.search(r"^\s*resolver\s", NGINX_CONF, re.MULTILINE) is not None
ORIGIN_SIZE = 12
ORIGIN_BASE = "http://origin:8080"
READ_DEADLINE = 120.0


@dataclass
class Deployment:
    stack: Stack
    images: dict[str, str]
    catalog: Catalog
    anime: Anime
    episode: Episode


def _built_and_started(folder: Path) -> Iterator[Deployment]:
    tag = f"test-{secrets.token_hex(4)}"
    images.ensure_stand_ins(images.ensure_base())
    built = images.build_app_images(tag)
    stack = Stack.create(
        folder,
        tag=tag,
        extra_env={
            "OTAKUDESU_BASE_URL": ORIGIN_BASE,
            "ORIGIN_SIZE": str(ORIGIN_SIZE),
            "SCRAPER_RATE_LIMIT": "0",
            # The fake origin's embeds name localhost: a host the crawl leaves alone here.
            "EMBED_HOSTS_ALLOWED": "origin:8080",
        },
    )
    catalog = generate_catalog(1, ORIGIN_SIZE, origin_base=ORIGIN_BASE)
    anime = next(a for a in catalog.anime.values() if len(a.episodes) >= 2)
    try:
        stack.compose("up", "-d")
        stack.wait_healthy()
        wait_until(
            lambda: stack.exec("worker", "python", "-c", _FETCH_ORIGIN).strip() == "200",
            "the fake origin answering the worker",
            deadline=READ_DEADLINE,
        )
        stack.exec("worker", "python", "manage.py", "scrape", "full")
        yield Deployment(stack, built, catalog, anime, anime.episodes[0])
    except BaseException:
        for service in ("db", "web", "worker", "nginx", "origin"):
            print(f"--- {service}\n{stack.logs(service)}")
        raise
    finally:
        stack.remove()
        for name in built.values():
            images.podman("rmi", "--force", name, check=False)


_FETCH_ORIGIN = (
    f"import urllib.request;print(urllib.request.urlopen('{ORIGIN_BASE}/', timeout=10).status)"
)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    yield from _built_and_started(tmp_path_factory.mktemp("compose"))


def _page_shows(deployment: Deployment, path: str, *texts: str) -> bool:
    page = deployment.stack.get(path)
    return page.status == 200 and all(html.escape(t) in page.body for t in texts)


def _assert_pages(deployment: Deployment) -> None:
    anime, episode = deployment.anime, deployment.episode
    wait_until(
        lambda: _page_shows(deployment, f"/anime/{anime.slug}/", anime.title, episode.title),
        f"the anime page {anime.slug} through nginx",
        deadline=READ_DEADLINE,
    )
    wait_until(
        lambda: _page_shows(deployment, f"/episode/{episode.slug}/", episode.title),
        f"the episode page {episode.slug} through nginx",
        deadline=READ_DEADLINE,
    )


def _assert_fresh(deployment: Deployment) -> None:
    """A page nginx cannot have cached (its own query string) comes from gunicorn."""
    anime = deployment.anime
    path = f"/anime/{anime.slug}/?v={secrets.token_hex(4)}"
    page = deployment.stack.get(path)
    assert page.status == 200, f"{path}: {page.status}"
    assert html.escape(anime.title) in page.body


def test_a_crawl_in_the_worker_fills_the_pages_nginx_serves(deployment: Deployment) -> None:
    counts = deployment.stack.counts()
    assert counts["anime"] == ORIGIN_SIZE
    assert counts["episodes"] == sum(len(a.episodes) for a in deployment.catalog.anime.values())
    _assert_pages(deployment)
    _assert_fresh(deployment)
    assert deployment.stack.get("/anime/no-such-anime/").status == 404
    static = re.search(r'href="(/static/[^"]+\.css)"', deployment.stack.get("/").body)
    assert static, "the home page links no stylesheet"
    css = deployment.stack.get(static.group(1))
    assert css.status == 200
    assert "immutable" in css.headers.get("Cache-Control", "")


def test_pages_answer_while_each_service_is_down_and_nothing_is_lost(
    deployment: Deployment,
) -> None:
    stack = deployment.stack
    before = stack.counts()
    stack.exec("redis", "redis-cli", "SET", "otakusite-test:broker-marker", "kept")
    for service in ("db", "redis", "redis-cache", "web", "worker", "nginx"):
        _assert_pages(deployment)  # fresh copies in every cache before the stop
        stack.compose("stop", service, timeout=300)
        if service == "web" and not NGINX_SERVES_STALE:
            assert stack.get(f"/anime/{deployment.anime.slug}/").status in {502, 504}
        elif service != "nginx":
            # The site's fallbacks (kept pages without the database, the database
            # without Redis, nginx's stale copy without gunicorn) keep both pages up.
            _assert_pages(deployment)
        stack.compose("start", service, timeout=300)
        stack.wait_healthy()
        if service == "web" and not NGINX_RERESOLVES:
            # What docker-compose.yml's `depends_on: web: restart: true` makes Docker
            # Compose do (podman-compose does not).
            stack.compose("restart", "nginx", timeout=300)
            stack.wait_healthy("nginx")
        _assert_pages(deployment)
        _assert_fresh(deployment)
    assert stack.counts() == before
    # The broker persists: a key written before its restart is still there.
    assert stack.exec("redis", "redis-cli", "GET", "otakusite-test:broker-marker").strip() == "kept"


def test_data_survives_down_and_up(deployment: Deployment) -> None:
    stack = deployment.stack
    before = stack.counts()
    stack.compose("down", timeout=600)
    stack.compose("up", "-d")
    stack.wait_healthy()
    assert stack.counts() == before
    _assert_pages(deployment)
    _assert_fresh(deployment)


_REPLICA_STATE = (
    "import json, os, urllib.request;"
    "r = urllib.request.Request('http://127.0.0.1:8000/healthz/ready',"
    " headers={'Host': 'localhost', 'X-Forwarded-Proto': 'https'});"
    "d = json.load(urllib.request.urlopen(r, timeout=30))['dependencies'];"
    "print(os.environ.get('DATABASE_REPLICA_URL', '').rsplit('@', 1)[-1],"
    " d.get('database_replica', 'off'))"
)


def _sql(stack: Stack, service: str, query: str) -> str:
    """A query as root over the container's socket (what an operator's shell would do)."""
    return stack.exec(service, "mariadb", "-N", "-B", "-e", query).strip()


def _replica_caught_up(stack: Stack) -> bool:
    primary = _sql(stack, "db", "SELECT @@gtid_binlog_pos")
    return bool(primary) and _sql(stack, "db-replica", "SELECT @@gtid_slave_pos") == primary


def test_the_scale_profile_adds_a_replica_and_a_second_web_node(deployment: Deployment) -> None:
    """README's "Read replica" on the running deployment: .env names the replica, then
    `--profile scale up -d --scale web=2`. Runs on the crawled stack (no second start
    from nothing): the replica starts empty and must replay db's binary log from its
    beginning, the crawl included."""
    try:
        _scale_profile_checks(deployment)
    except BaseException:
        for service, replica in (("db", 1), ("db-replica", 1), ("web", 2), ("nginx", 1)):
            print(f"--- {service}_{replica}\n{deployment.stack.logs(service, replica=replica)}")
        raise


def _scale_profile_checks(deployment: Deployment) -> None:
    stack = deployment.stack
    env = stack.env
    stack.write_env(
        DATABASE_REPLICA_URL=f"mysql://{env['MARIADB_USER']}:{env['MARIADB_PASSWORD']}"
        f"@db-replica:3306/{env['MARIADB_DATABASE']}"
    )
    stack.profiles.append("scale")
    # The stand-ins' tags are shared by every run on this machine: another checkout's run
    # may have retagged its own mariadb stand-in since this module's start.
    images.ensure_stand_ins(images.ensure_base())
    # Recreated, since the .env change is not part of the service definitions podman-compose
    # compares; nginx is recreated with web and so resolves both web containers.
    stack.compose("up", "-d", "--force-recreate", "--scale", "web=2")
    stack.wait_healthy()
    stack.wait_healthy("db-replica")
    wait_until(lambda: stack.healthy("web", replica=2), "web_2 healthy", deadline=READ_DEADLINE)

    # Replication: everything the crawl wrote on db (before the replica existed) is on it.
    wait_until(lambda: _replica_caught_up(stack), "db-replica at db's position", deadline=300)
    for table in ("catalog_anime", "catalog_episode", "catalog_streamlink"):
        query = f"SELECT COUNT(*) FROM {env['MARIADB_DATABASE']}.{table}"
        primary = _sql(stack, "db", query)
        assert int(primary) > 0
        assert _sql(stack, "db-replica", query) == primary, table
    assert _sql(stack, "db-replica", "SELECT @@read_only") == "1"

    # Both web containers read from it: the replica's address, and their readiness says up.
    # (Retried: a process that met the replica before it had the site's user keeps away
    # from it for REPLICA_RETRY_SECONDS.)
    for replica in (1, 2):
        wait_until(
            lambda r=replica: (
                stack.exec("web", "python", "-c", _REPLICA_STATE, replica=r).split()
                == [f"db-replica:3306/{env['MARIADB_DATABASE']}", "up"]
            ),
            f"web_{replica} reading from db-replica",
            deadline=READ_DEADLINE,
            interval=2.0,
        )

    # Through nginx: the crawled pages, and pages nginx cannot have cached (their own query
    # string, each with its own request id) answered by both web containers.
    _assert_pages(deployment)
    ids = [f"scaletest{secrets.token_hex(8)}" for _ in range(8)]
    for request_id in ids:
        page = stack.get(
            f"/anime/{deployment.anime.slug}/?v={request_id}", headers={"X-Request-ID": request_id}
        )
        assert page.status == 200
        assert html.escape(deployment.anime.title) in page.body
    for replica in (1, 2):
        log = stack.logs("web", replica=replica, tail="500")
        assert any(i in log for i in ids), f"web_{replica} answered none of {ids}"


def test_the_images_run_unprivileged_with_read_only_code_and_no_build_ca(
    deployment: Deployment,
) -> None:
    stack = deployment.stack
    for service in ("web", "worker"):
        assert stack.exec(service, "id", "-u").strip() == "10001"
        probe = (
            "touch /app/manage.py 2>/dev/null && echo code-writable; touch /app/var/p && echo ok"
        )
        assert stack.exec(service, "sh", "-c", probe).split() == ["ok"]
    lines = images.local_ca_lines()
    if not lines:
        pytest.skip("no local CA on this machine to look for")
    for name in deployment.images.values():
        for line in lines:
            found = images.podman(
                "run",
                "--rm",
                "--user",
                "root",
                "--entrypoint",
                "grep",
                name,
                "-rlF",
                line,
                "/etc",
                "/usr/local",
                "/usr/share/ca-certificates",
                "/opt",
                "/app",
                "/root",
                "/home",
                "/run",
                "/tmp",
                "/var",
                "/srv",
                check=False,
            )
            assert found.returncode == 1, f"{name} carries the build CA: {found.stdout}"
