"""Helpers shared by the edge operation tests (TLS proxy, cache keys, worker recycling) and
bench/bench_operation.py: a site filled from the fake origin, the shipped nginx config
turned into a local one, and the shipped Compose file's Redis services read without PyYAML.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.procs import REPO_ROOT, Service, free_port, manage, prepare_site, site_env, start_nginx

NGINX_CONF = REPO_ROOT / "deploy" / "nginx" / "nginx.conf"
NGINX_TLS_CONF = REPO_ROOT / "deploy" / "nginx" / "tls.conf"
NGINX_BROTLI_CONF = REPO_ROOT / "deploy" / "nginx" / "brotli.conf"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
# Where Debian's nginx packages enable dynamic modules (apt libnginx-mod-*).
MODULES_ENABLED = Path("/etc/nginx/modules-enabled")


def crawled_site_env(tmp_path: Path, origin_url: str, **extra: str) -> dict[str, str]:
    """Production settings on a private SQLite database holding a full crawl of the fake
    origin at ``origin_url`` (static files collected, migrations applied)."""
    env = site_env(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'site.sqlite3'}",
        OTAKUDESU_BASE_URL=origin_url,
        SCRAPER_RATE_LIMIT="0",
        AUTO_FIRST_CRAWL="0",
        **extra,
    )
    prepare_site(env)
    manage(env, "scrape", "full")
    return env


def _nginx_modules_path() -> Path:
    """Where this nginx's dynamic modules live (`nginx -V`: --modules-path)."""
    from tests.procs import NGINX

    if NGINX:
        done = subprocess.run([NGINX, "-V"], capture_output=True, text=True, check=False)
        if match := re.search(r"--modules-path=(\S+)", done.stderr):
            return Path(match.group(1))
    return Path("/usr/lib/nginx/modules")


def local_modules() -> str:
    """The `load_module` lines this machine's nginx has enabled, with absolute paths: the
    packages write them relative to nginx's prefix, which the tests move (``-p``)."""
    modules = _nginx_modules_path()
    lines = [
        line.replace("load_module modules/", f"load_module {modules}/")
        for conf in sorted(MODULES_ENABLED.glob("*.conf"))
        for line in conf.read_text().splitlines()
        if line.strip().startswith("load_module")
    ]
    return "\n".join(lines)


def brotli_loaded(modules: str | None = None) -> bool:
    """Whether nginx here has both Brotli modules enabled (deploy/nginx/brotli.conf)."""
    modules = local_modules() if modules is None else modules
    return all(f"ngx_http_brotli_{kind}_module" in modules for kind in ("filter", "static"))


def local_media_dir(tmp_path: Path) -> Path:
    """Where the local nginx of ``local_nginx_conf(tmp_path, ...)`` serves /media/ from."""
    return tmp_path / "srv" / "media"


def local_nginx_conf(
    tmp_path: Path,
    *,
    listen_port: int,
    web_port: int,
    static_dir: Path,
    source: Path = NGINX_CONF,
    extra_swaps: dict[str, str] | None = None,
) -> str:
    """The shipped nginx config with the container's names and paths swapped for local
    ones. Every swap must hit exactly once, so a changed config cannot silently escape the
    tests that use it. The temp paths are added by tests.procs.start_nginx. The page cache
    goes to ``tmp_path/page-cache``; Brotli (deploy/nginx/brotli.conf) is on where this
    machine's nginx has the modules, as an operator would mount it."""
    text = source.read_text()
    modules = local_modules()
    brotli = f"include {NGINX_BROTLI_CONF};" if brotli_loaded(modules) else ""
    swaps = {
        "include /etc/nginx/modules-enabled/*.conf;": modules,
        "include /etc/nginx/brotli/*.conf;": brotli,
        "proxy_cache_path /var/cache/nginx/otakusite ": (
            f"proxy_cache_path {tmp_path / 'page-cache'} "
        ),
        # As root, nginx's workers would drop to "nobody", who cannot read pytest's tmp.
        "user nginx;": "user root root;" if os.geteuid() == 0 else "",
        "pid /var/run/nginx.pid;": f"pid {tmp_path / 'nginx.pid'};",
        "error_log /dev/stderr warn;": f"error_log {tmp_path / 'error.log'} info;",
        "access_log /dev/stdout otakusite;": f"access_log {tmp_path / 'access.log'} otakusite;",
        "server web:8000;": f"server 127.0.0.1:{web_port};",
        "listen 80 default_server;": f"listen 127.0.0.1:{listen_port} default_server;",
        "listen [::]:80 default_server;": "",
        "alias /srv/static/;": f"alias {static_dir}/;",
        # Posters: tmp_path/srv/media/posters/ (tests.edge_helpers.local_media_dir).
        "root /srv;": f"root {local_media_dir(tmp_path).parent};",
        **(extra_swaps or {}),
    }
    for old, new in swaps.items():
        count = text.count(old)
        assert count == 1, f"{old!r} found {count} times in {source}, expected once"
        text = text.replace(old, new)
    return text


def start_shipped_nginx(tmp: Path, *, web_port: int, static_dir: Path) -> tuple[Service, str]:
    """The shipped nginx config (without TLS) in front of gunicorn on ``web_port``, its
    files under ``tmp/nginx``; returns the service and its base URL."""
    port = free_port()
    nginx_dir = tmp / "nginx"
    nginx_dir.mkdir()
    conf = local_nginx_conf(
        nginx_dir,
        listen_port=port,
        web_port=web_port,
        static_dir=static_dir,
        extra_swaps={"include /etc/nginx/tls/*.conf;": ""},
    )
    return start_nginx(conf, nginx_dir, port=port), f"http://127.0.0.1:{port}"


def compose_services(text: str | None = None) -> dict[str, str]:
    """docker-compose.yml's services, each as the text of its block (PyYAML is not a
    dependency: the file's own two-space indentation delimits the blocks)."""
    text = COMPOSE_FILE.read_text() if text is None else text
    body = text.split("\nservices:\n", 1)[1]
    body = re.split(r"\n(?=\S)", body, maxsplit=1)[0]  # up to the next top-level key
    blocks: dict[str, str] = {}
    for match in re.finditer(r"^  ([\w-]+):\n((?:(?:    .*)?\n)*)", body + "\n", re.M):
        blocks[match.group(1)] = match.group(2)
    return blocks


def redis_command_args(block: str) -> list[str]:
    """The arguments of a Compose service's ``command: [...]`` (a one-line JSON-ish list)."""
    match = re.search(r"^    command: \[(.*)\]\s*$", block, re.M)
    assert match, f"no one-line command list in:\n{block}"
    return [item.strip().strip('"') for item in match.group(1).split(",")]


def option(args: list[str], name: str) -> str | None:
    """The value after ``--name`` in redis-server arguments; a Compose variable with a
    default (``${CACHE_REDIS_MAXMEMORY:-256mb}``) gives its default."""
    flag = f"--{name}"
    if flag not in args:
        return None
    value = args[args.index(flag) + 1]
    if match := re.fullmatch(r"\$\{\w+:-(.*)\}", value):
        return match.group(1)
    return value


def redis_bytes(size: str) -> int:
    """redis.conf's memory units: 256mb, 1gb, 100000 (bytes)."""
    match = re.fullmatch(r"(\d+)\s*([kmg]?b?)", size.strip().lower())
    assert match, f"not a redis memory size: {size!r}"
    unit = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 10**6, "mb": 1024**2, "g": 10**9,
            "gb": 1024**3}[match.group(2)]  # fmt: skip
    return int(match.group(1)) * unit
