"""The deployment files hold together: nginx accepts its config, Compose accepts its file
(when Docker Compose is installed), .env.example names every setting, the Docker build
context has what the Dockerfile copies, and the entrypoint refuses a placeholder secret."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.test_nginx_proxy import NGINX, free_port, nginx_test_config

ENV_EXAMPLE = REPO_ROOT / ".env.example"


def env_example_names() -> set[str]:
    names = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"#?\s*([A-Z][A-Z0-9_]+)=", line)
        if match:
            names.add(match.group(1))
    return names


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt nginx)")
def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    static = tmp_path / "static"
    static.mkdir()
    conf = nginx_test_config(
        tmp_path, listen_port=free_port(), web_port=free_port(), static_dir=static
    )
    done = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def _compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _compose_available(), reason="Docker Compose is not installed")
def test_docker_compose_accepts_the_file_with_the_example_env(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            "docker",
            "compose",
            "--env-file",
            str(ENV_EXAMPLE),
            "-f",
            "docker-compose.yml",
            "config",
            "-q",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_env_example_names_every_setting_of_readme_and_compose() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    table = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\|[^|]*", table, flags=re.MULTILINE))
    readme_names = {n for row in documented for n in re.findall(r"`([A-Z][A-Z0-9_]+)`", row)}
    compose = (REPO_ROOT / "docker-compose.yml").read_text()
    compose_names = set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", compose))
    assert readme_names, "README.md's settings table was not found"
    missing = (readme_names | compose_names) - env_example_names()
    assert not missing, f".env.example lacks {sorted(missing)}"


def _dockerignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw.lstrip("!").rstrip("/")
        parts = Path(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(
            fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, "**/" + pattern) for p in prefixes
        ):
            ignored = not negate
    return ignored


def test_docker_build_context_has_what_the_dockerfile_copies() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    patterns = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = []
    for match in re.finditer(r"^COPY (?!--from)(?:--\S+ )*(.+) \S+$", dockerfile, re.MULTILINE):
        sources += match.group(1).split()
    assert sources
    for source in sources:
        if source == ".":
            continue
        assert (REPO_ROOT / source).exists(), f"Dockerfile copies missing {source}"
        assert not _dockerignored(source, patterns), f".dockerignore excludes {source}"
    # What the running containers need is inside the context.
    for needed in ("manage.py", "deploy/entrypoint.sh", "deploy/gunicorn.conf.py", "static/css"):
        assert not _dockerignored(needed, patterns), needed
    for secret in (".env", ".git/config", "var/otakusite.sqlite3"):
        assert _dockerignored(secret, patterns), secret
    # The solver uses Debian's Chromium; Playwright's own browser download is never used.
    assert not re.search(r"^RUN[^\n]*playwright install", dockerfile, re.MULTILINE)
    assert re.search(r"apt-get install[^\n]*\bchromium\b", dockerfile)


def test_entrypoint_refuses_the_placeholder_secret_key() -> None:
    env = {**os.environ, "SECRET_KEY": "change-me-to-a-long-random-string"}
    done = subprocess.run(
        ["sh", str(REPO_ROOT / "deploy" / "entrypoint.sh"), "web"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 1
    assert "SECRET_KEY" in done.stderr


def _compose_service_block(name: str) -> str:
    """The text of one service in docker-compose.yml (no PyYAML in the dependencies)."""
    compose = (REPO_ROOT / "docker-compose.yml").read_text()
    match = re.search(rf"^  {name}:\n(.*?)(?=^  \S|^\S)", compose, re.MULTILINE | re.DOTALL)
    assert match, f"service {name} not found"
    return match.group(1)


def test_health_checks_use_liveness_for_web_and_the_cluster_status_for_the_worker() -> None:
    """Issue 11 item 14: the web container's health is liveness (a database or Redis outage
    must not get a serving container restarted); the worker has a real health check."""
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    web_stage = dockerfile.split("AS web", 1)[1]
    worker_stage = dockerfile.split("AS worker", 1)[1].split("\nFROM ", 1)[0]
    assert "deploy/healthcheck.py" in web_stage
    assert "worker_health" in worker_stage
    assert "HEALTHCHECK NONE" not in worker_stage
    assert "deploy/healthcheck.py" in _compose_service_block("web")
    assert "worker_health" in _compose_service_block("worker")
    healthcheck = (REPO_ROOT / "deploy" / "healthcheck.py").read_text()
    assert re.search(r'DEFAULT_URL = "http://127\.0\.0\.1:8000/healthz/live"', healthcheck)
