"""Real server processes for the operation tests: private MariaDB, Redis, gunicorn, nginx,
django-q2 clusters and manage.py commands, each on a free port of 127.0.0.1 and in the
test's own temporary folder, never the machine's shared services.

Every helper waits for readiness by polling with a generous deadline (it only bounds a
hang, it is not a timing assertion) and fails at once when the process it waits for has
exited. A test freezes a service with ``.freeze()`` (SIGSTOP) and thaws it with
``.thaw()``; ``.kill()`` is SIGKILL, ``.stop()`` a clean stop.

    mariadb = start_mariadb(tmp_path)          # skips when mariadbd is not installed
    redis = start_redis(tmp_path)
    env = site_env(tmp_path, database_url=mariadb.url("site"), redis_url=redis.url())
    manage(env, "migrate", "--noinput")
    web = start_gunicorn(env, tmp_path)         # web.url, web.get("/path")
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = Path(sys.executable).with_name("gunicorn")
# Generous: a busy 2-core CI machine may take long to start a server; a hang still ends.
START_DEADLINE = float(os.environ.get("PROCS_START_DEADLINE", "120"))


def which(name: str, *extra: str) -> str | None:
    return shutil.which(name) or next((p for p in extra if Path(p).exists()), None)


MARIADBD = which("mariadbd", "/usr/sbin/mariadbd")
MARIADB_INSTALL_DB = which("mariadb-install-db", "/usr/bin/mariadb-install-db")
MARIADB_CLIENT = which("mariadb", "/usr/bin/mariadb")
REDIS_SERVER = which("redis-server", "/usr/bin/redis-server")
NGINX = which("nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(
    check: Callable[[], bool],
    what: str,
    *,
    process: subprocess.Popen[bytes] | None = None,
    deadline: float = START_DEADLINE,
    interval: float = 0.1,
) -> None:
    """Poll ``check`` until it is true; fail when ``process`` exits or the deadline passes.
    Exceptions from ``check`` (connection refused...) count as "not yet"."""
    end = time.monotonic() + deadline
    last: BaseException | None = None
    while time.monotonic() < end:
        if process is not None and process.poll() is not None:
            raise AssertionError(
                f"{what}: process exited with {process.returncode} (check's last error: {last!r})"
            )
        try:
            if check():
                return
        except Exception as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"{what} did not happen within {deadline:.0f} s (last error: {last!r})")


def stop_process(process: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM) -> int:
    """Send ``sig`` (a frozen process is thawed first) and reap; SIGKILL after 30 s."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)
            process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@dataclass
class Service:
    """A server process we started: freeze/thaw/kill/stop it; ``restart()`` starts it anew
    with the same command (same port, same data)."""

    name: str
    port: int
    argv: list[str]
    workdir: Path
    env: dict[str, str] | None = None
    ready: Callable[[Service], bool] | None = None
    process: subprocess.Popen[bytes] = field(init=False)
    log: Path = field(init=False)

    def start(self) -> Service:
        self.log = self.workdir / f"{self.name}.log"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                cwd=REPO_ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a signal to the test's group never reaches it
            )
        check = self.ready or (lambda s: port_open(s.port))
        try:
            wait_until(lambda: check(self), f"{self.name} start", process=self.process)
        except AssertionError as exc:
            self.stop()
            raise AssertionError(f"{exc}\n--- {self.log}:\n{self.log_text()[-3000:]}") from exc
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def freeze(self) -> None:
        os.killpg(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or ``docker kill`` would (the whole process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> int:
        code = stop_process(self.process)
        with contextlib.suppress(ProcessLookupError):  # stragglers of the group
            os.killpg(self.process.pid, signal.SIGKILL)
        return code

    def restart(self) -> Service:
        if self.process.poll() is None:
            self.stop()
        return self.start()


# --------------------------------------------------------------------------- MariaDB


@dataclass
class MariaDB(Service):
    def url(self, database: str = "otakusite") -> str:
        """A DATABASE_URL (root, no password); the database is created if missing."""
        self.sql(
            f"CREATE DATABASE IF NOT EXISTS `{database}` "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
        return f"mysql://root@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, *, database: str = "") -> str:
        out = subprocess.run(
            [
                MARIADB_CLIENT or "mariadb",
                "--protocol=tcp",
                "-h127.0.0.1",
                f"-P{self.port}",
                "-uroot",
                "-N",
                "-B",
                *([database] if database else []),
                "-e",
                statement,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return out.stdout


def _mariadb_ready(service: Service) -> bool:
    return (
        subprocess.run(
            [
                MARIADB_CLIENT or "mariadb",
                "--protocol=tcp",
                "-h127.0.0.1",
                f"-P{service.port}",
                "-uroot",
                "-e",
                "SELECT 1",
            ],
            capture_output=True,
            timeout=10,
            check=False,
        ).returncode
        == 0
    )


def start_mariadb(
    tmp_path: Path, *, extra_args: Sequence[str] = (), timezones: bool = True
) -> MariaDB:
    """A private MariaDB server (fresh data folder, root without password) on a free port.
    ``timezones`` loads the time zone tables Django's date functions need with USE_TZ."""
    if not (MARIADBD and MARIADB_INSTALL_DB and MARIADB_CLIENT):
        pytest.skip("MariaDB server is not installed (apt mariadb-server)")
    base = tmp_path / f"mariadb-{free_port()}"
    data = base / "data"
    base.mkdir(parents=True)
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [
            MARIADB_INSTALL_DB,
            "--no-defaults",
            f"--datadir={data}",
            "--skip-test-db",
            "--auth-root-authentication-method=normal",
            *user,
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    port = free_port()
    argv = [
        MARIADBD,
        "--no-defaults",
        f"--datadir={data}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        f"--socket={base / 'mysqld.sock'}",
        f"--pid-file={base / 'mysqld.pid'}",
        "--innodb-buffer-pool-size=64M",
        "--skip-name-resolve",
        *user,
        *extra_args,
    ]
    db = MariaDB("mariadb", port, argv, base, ready=_mariadb_ready)
    db.start()
    if timezones:
        tz = subprocess.run(
            ["mariadb-tzinfo-to-sql", "/usr/share/zoneinfo"],
            capture_output=True,
            check=True,
            timeout=300,
        ).stdout
        subprocess.run(
            [MARIADB_CLIENT, "--protocol=tcp", "-h127.0.0.1", f"-P{port}", "-uroot", "mysql"],
            input=tz,
            capture_output=True,
            check=True,
            timeout=300,
        )
    return db


# --------------------------------------------------------------------------- Redis


@dataclass
class Redis(Service):
    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def cli(self, *args: str) -> str:
        import redis

        client = redis.Redis(port=self.port, socket_timeout=10, decode_responses=True)
        try:
            return str(client.execute_command(*args))
        finally:
            client.close()


def start_redis(tmp_path: Path, *, extra_args: Sequence[str] = ()) -> Redis:
    if not REDIS_SERVER:
        pytest.skip("redis-server is not installed (apt redis-server)")
    port = free_port()
    base = tmp_path / f"redis-{port}"
    base.mkdir(parents=True)
    argv = [
        REDIS_SERVER,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(base),
        *extra_args,
    ]
    return Redis("redis", port, argv, base).start()  # type: ignore[return-value]


# --------------------------------------------------------------------------- the site


def site_env(
    tmp_path: Path,
    *,
    database_url: str,
    redis_url: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """Production settings (DEBUG off) for processes of the site, with its own var and
    static folders. ``extra`` adds or overrides variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DEBUG"}
    }
    env.update(
        DEBUG="0",
        SECRET_KEY="operation-test-" + "s3cr3t" * 8,
        ALLOWED_HOSTS="otakusite.test,localhost,127.0.0.1",
        DATABASE_URL=database_url,
        STATIC_ROOT=str(tmp_path / "staticfiles"),
        OTAKUSITE_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE="otakusite.settings",
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


def manage(
    env: dict[str, str], *args: str, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py ARGS`` to completion (text output captured)."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"manage.py {' '.join(args)} exited {result.returncode}\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def prepare_site(env: dict[str, str]) -> None:
    """What the web container does before serving: collectstatic and migrate."""
    manage(env, "collectstatic", "--noinput")
    manage(env, "migrate", "--noinput")


def start_manage(env: dict[str, str], tmp_path: Path, *args: str, name: str = "manage") -> Service:
    """``manage.py ARGS`` in the background (e.g. ``qcluster``, ``scrape full``); ready as
    soon as it started (poll its log or the database for what you wait for)."""
    service = Service(
        name, 0, [PYTHON, "manage.py", *args], tmp_path, env=env, ready=lambda s: True
    )
    return service.start()


@dataclass
class Web(Service):
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        kwargs.setdefault("timeout", 30)
        headers = {"Host": "localhost", **dict(kwargs.pop("headers", {}) or {})}  # type: ignore[call-overload]
        return httpx.get(self.url + path, headers=headers, **kwargs)  # type: ignore[arg-type]


def start_gunicorn(
    env: dict[str, str], tmp_path: Path, *, workers: int = 2, port: int | None = None, **extra: str
) -> Web:
    """gunicorn with deploy/gunicorn.conf.py, as the web container runs it; ready when
    ``/healthz/live`` (or ``/healthz``) answers."""
    if not GUNICORN.exists():
        pytest.skip(f"gunicorn not installed next to {sys.executable}")
    port = port or free_port()
    web_env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        **extra,
    }
    argv = [str(GUNICORN), "--config", "deploy/gunicorn.conf.py", "otakusite.wsgi"]

    def ready(service: Service) -> bool:
        for path in ("/healthz/live", "/healthz"):
            response = httpx.get(
                f"http://127.0.0.1:{service.port}{path}", headers={"Host": "localhost"}, timeout=5
            )
            if response.status_code != 404:
                return response.status_code < 500
        return False

    return Web(f"gunicorn-{port}", port, argv, tmp_path, env=web_env, ready=ready).start()  # type: ignore[return-value]


def write_nginx_conf(conf_text: str, base: Path) -> Path:
    """``base/nginx.conf``: the config text with nginx's temp files in ``base`` too (Debian's
    nginx keeps them under /var/lib/nginx, which a test cannot count on)."""
    temp = "".join(
        f"    {name}_temp_path {base / name};\n"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = base / "nginx.conf"
    conf.write_text(conf_text.replace("http {\n", "http {\n" + temp, 1))
    return conf


def start_nginx(conf_text: str, tmp_path: Path, *, port: int) -> Service:
    """nginx with a config text (listening on ``port``); its temp paths go into tmp."""
    if NGINX is None:
        pytest.skip("nginx is not installed (apt nginx)")
    base = tmp_path / f"nginx-{port}"
    base.mkdir(parents=True)
    conf = write_nginx_conf(conf_text, base)
    argv = [NGINX, "-p", str(base), "-c", str(conf), "-g", "daemon off;"]
    return Service(f"nginx-{port}", port, argv, base).start()


@contextlib.contextmanager
def running(*services: Service) -> Iterator[None]:
    """Stop the given services at the end, whatever happens."""
    try:
        yield
    finally:
        for service in reversed(services):
            with contextlib.suppress(Exception):
                service.stop()
