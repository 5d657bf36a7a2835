"""One Compose project of the shipped docker-compose.yml, run by podman-compose.

The project lives in a temporary folder holding a byte-for-byte copy of docker-compose.yml,
the test's .env (random project name, passwords and host port), this folder's
compose.origin.yml (the fake origin) and links to the repository's deploy/ and tests/
folders (what the Compose files mount). podman 4.3 runs health checks only when asked
(no systemd timers here), so :meth:`Stack.wait_healthy` runs each service's own check,
the Compose file's, until it passes: what a timer would do.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.containers.images import HERE, REPO_ROOT, podman
from tests.procs import free_port, wait_until

SERVICES = ("db", "redis", "redis-cache", "web", "worker", "nginx")
# The opt-in profile's extra service (docker-compose.yml: `--profile scale`).
SCALE_SERVICES = ("db-replica",)
COMPOSE = str(Path(sys.executable).with_name("podman-compose"))
HEALTH_DEADLINE = 300.0


@dataclass
class Page:
    status: int
    body: str
    headers: dict[str, str]


@dataclass
class Stack:
    folder: Path
    project: str
    tag: str
    http_port: int
    env: dict[str, str] = field(default_factory=dict)
    # Volumes the images declare (VOLUME) that no Compose volume covers, e.g. redis-cache's
    # /data: `down -v` leaves them, the test removes them.
    anonymous_volumes: set[str] = field(default_factory=set)
    # Compose profiles switched on (`--profile`), given to every later command so that
    # `down` also removes their services.
    profiles: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, folder: Path, *, tag: str, extra_env: dict[str, str]) -> Stack:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / "docker-compose.yml", folder / "docker-compose.yml")
        shutil.copyfile(HERE / "compose.origin.yml", folder / "compose.origin.yml")
        for name in ("deploy", "tests"):
            (folder / name).symlink_to(REPO_ROOT / name)
        stack = cls(folder, f"ostest{secrets.token_hex(4)}", tag, free_port())
        stack.env = {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "localhost",
            "CSRF_TRUSTED_ORIGINS": "http://localhost",
            "MARIADB_DATABASE": "otakusite",
            "MARIADB_USER": "otakusite",
            "MARIADB_PASSWORD": secrets.token_hex(16),
            "MARIADB_ROOT_PASSWORD": secrets.token_hex(16),
            # db creates the account on its first start, as a new deployment that may
            # later add the replica (README.md, "Read replica").
            "MARIADB_REPLICATION_USER": "repl",
            "MARIADB_REPLICATION_PASSWORD": secrets.token_hex(16),
            "HTTP_PORT": str(stack.http_port),
            "OTAKUSITE_TAG": tag,
            "AUTO_FIRST_CRAWL": "0",
            "WEB_CONCURRENCY": "2",
            "Q_WORKERS": "1",
            **extra_env,
        }
        stack.write_env()
        return stack

    def write_env(self, **changes: str) -> None:
        self.env.update(changes)
        lines = [f"{k}={v}" for k, v in self.env.items()]
        (self.folder / ".env").write_text("\n".join(lines) + "\n")

    # --- podman-compose and podman ---------------------------------------------------
    def compose(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        # Only the .env file configures the project: none of the test run's own variables
        # (DATABASE_URL, REDIS_URL...) may reach Compose's interpolation.
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        if args[0] == "down":
            self.anonymous_volumes |= self._anonymous_volumes()
        command = [COMPOSE, "-p", self.project, "-f", "docker-compose.yml"]
        command += ["-f", "compose.origin.yml"]
        for profile in self.profiles:
            command += ["--profile", profile]
        command += args
        done = subprocess.run(
            command,
            cwd=self.folder,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise AssertionError(
                f"podman-compose {' '.join(args)} exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done

    def _label_filter(self) -> str:
        return f"label=io.podman.compose.project={self.project}"

    def _containers(self, *, check: bool = True) -> list[str]:
        """The ids of the project's containers, running or not."""
        label = self._label_filter()
        return podman(
            "ps", "-a", "--filter", label, "--format", "{{.ID}}", check=check
        ).stdout.split()

    def _anonymous_volumes(self) -> set[str]:
        names: set[str] = set()
        for container in self._containers():
            mounts = podman(
                "inspect", "--format", "{{range .Mounts}}{{.Name}} {{end}}", container
            ).stdout.split()
            names |= {m for m in mounts if not m.startswith(f"{self.project}_")}
        return names

    def remove(self) -> None:
        """`down -v`, then whatever it leaves: the anonymous volumes, and the containers,
        pod and named volumes of the project that podman-compose failed to remove (without
        systemd, podman's removal of a health check's timer fails now and then, and the
        dependencies db, redis and redis-cache stayed behind after every run)."""
        self.compose("down", "-v", timeout=600)
        left = self._containers(check=False)
        if left:
            podman("rm", "--force", "--volumes", *left, check=False)
        podman("pod", "rm", "--force", "--ignore", f"pod_{self.project}", check=False)
        label = self._label_filter()
        named = podman("volume", "ls", "--filter", label, "--format", "{{.Name}}", check=False)
        for volume in sorted(self.anonymous_volumes | set(named.stdout.split())):
            podman("volume", "rm", "--force", volume, check=False)

    def container(self, service: str, replica: int = 1) -> str:
        return f"{self.project}_{service}_{replica}"

    def exec(self, service: str, *command: str, timeout: float = 900, replica: int = 1) -> str:
        container = self.container(service, replica)
        done = podman("exec", container, *command, check=False, timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} in {service} exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done.stdout

    def healthy(self, service: str, replica: int = 1) -> bool:
        """The service's own health check (the Compose file's) passes right now."""
        container = self.container(service, replica)
        return podman("healthcheck", "run", container, check=False).returncode == 0

    def wait_healthy(self, *services: str) -> None:
        default = SERVICES + (SCALE_SERVICES if "scale" in self.profiles else ())
        for service in services or default:
            wait_until(
                lambda s=service: self.healthy(s),
                f"{service} healthy",
                deadline=HEALTH_DEADLINE,
                interval=1.0,
            )

    def logs(self, service: str, replica: int = 1, tail: str = "60") -> str:
        done = podman("logs", "--tail", tail, self.container(service, replica), check=False)
        return done.stdout + done.stderr

    # --- the site through nginx ------------------------------------------------------
    def get(self, path: str, headers: dict[str, str] | None = None) -> Page:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}",
            headers={"Host": "localhost", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Page(
                    response.status, response.read().decode(), dict(response.headers.items())
                )
        except urllib.error.HTTPError as exc:
            return Page(exc.code, exc.read().decode(), dict(exc.headers.items()))

    def counts(self) -> dict[str, int]:
        """Rows of the catalogue, read in the worker container through Django."""
        code = (
            "from catalog.models import Anime, Episode, StreamLink, DownloadLink;"
            "print(Anime.objects.count(), Episode.objects.count(),"
            " StreamLink.objects.count(), DownloadLink.objects.count())"
        )
        out = self.exec("worker", "python", "manage.py", "shell", "-c", code)
        anime, episodes, streams, downloads = (int(n) for n in out.split()[-4:])
        return {"anime": anime, "episodes": episodes, "streams": streams, "downloads": downloads}
