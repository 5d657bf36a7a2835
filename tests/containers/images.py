"""The images tests/test_containers.py runs: a Debian trixie base made with mmdebstrap
(tagged debian:trixie-slim, what the Dockerfile starts from), the stand-ins for the
official images docker-compose.yml names (CI cannot pull them: built from Debian packages
in the folders beside this file, tagged with the official names), and the app's own
images built from the shipped Dockerfile.

The base and the stand-ins are kept between runs: each carries a label with the hash of
what it was made from and is rebuilt only when that changes. The app images are rebuilt
every run (they are what is under test) and removed afterwards.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
BASE_IMAGE = "docker.io/library/debian:trixie-slim"
RECIPE_LABEL = "org.otakusite.test.recipe"
# What the mmdebstrap base is made from; changing it rebuilds the base (and the stand-ins).
MMDEBSTRAP_ARGS = (
    "--variant=minbase",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "trixie",
)
# The build's only trust in the package proxy: given to RUN steps as a secret.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
LOCAL_CA_DIR = Path("/usr/local/share/ca-certificates")
# Local state that .dockerignore keeps out of the build anyway: not worth copying.
SNAPSHOT_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "var", "staticfiles", "__pycache__", ".*_cache", ".hypothesis", "*.egg-info"
)


@dataclass(frozen=True)
class StandIn:
    folder: str
    image: str  # the official name docker-compose.yml uses


def compose_image(service: str) -> str:
    """The image docker-compose.yml names for a service (no PyYAML in the dependencies)."""
    text = (REPO_ROOT / "docker-compose.yml").read_text()
    block = text.split(f"\n  {service}:\n", 1)[1]
    line = next(ln for ln in block.splitlines() if ln.strip().startswith("image:"))
    return line.split("image:", 1)[1].strip()


def full_name(image: str) -> str:
    """docker.io's short names as podman stores them (``mariadb:11.8`` ->
    ``docker.io/library/mariadb:11.8``)."""
    return image if "/" in image else f"docker.io/library/{image}"


def stand_ins() -> list[StandIn]:
    return [
        StandIn("mariadb", full_name(compose_image("db"))),
        StandIn("redis", full_name(compose_image("redis"))),
        StandIn("nginx", full_name(compose_image("nginx"))),
    ]


def podman(
    *args: str, check: bool = True, timeout: float = 1800
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["podman", *args], capture_output=True, text=True, check=False, timeout=timeout
    )
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done


def _label(image: str) -> str | None:
    done = podman(
        "image",
        "inspect",
        "--format",
        f'{{{{index .Labels "{RECIPE_LABEL}"}}}}',
        image,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def _digest(*parts: bytes) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(len(part).to_bytes(8, "big") + part)
    return sha.hexdigest()[:16]


def ensure_base() -> str:
    """debian:trixie-slim from Debian's own archive (kept while its recipe is unchanged)."""
    key = _digest(*(a.encode() for a in MMDEBSTRAP_ARGS))
    if _label(BASE_IMAGE) == key:
        return key
    with tempfile.TemporaryDirectory(prefix="otakusite-base-") as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        subprocess.run(
            ["mmdebstrap", "--quiet", *MMDEBSTRAP_ARGS, str(tarball)],
            check=True,
            capture_output=True,
            timeout=1800,
        )
        podman(
            "import",
            "--change",
            f"LABEL {RECIPE_LABEL}={key}",
            "--change",
            'CMD ["bash"]',
            str(tarball),
            BASE_IMAGE,
        )
    return key


def ensure_stand_ins(base_key: str) -> list[str]:
    """Build each stand-in whose folder (or the base) changed; return their names."""
    names = []
    for stand_in in stand_ins():
        folder = HERE / stand_in.folder
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        key = _digest(base_key.encode(), *(p.name.encode() + b"\0" + p.read_bytes() for p in files))
        if _label(stand_in.image) != key:
            podman(
                "build",
                "--isolation",
                "chroot",
                "--format",
                "docker",
                "--label",
                f"{RECIPE_LABEL}={key}",
                "-t",
                stand_in.image,
                str(folder),
            )
        names.append(stand_in.image)
    return names


def build_app_images(tag: str) -> dict[str, str]:
    """The shipped Dockerfile's web and worker targets, named as docker-compose.yml names
    them (``otakusite-web:${OTAKUSITE_TAG}``), the host's CA bundle given as build secret.
    The code stage is named too, so that removing the returned images leaves only podman's
    cache of the stages before the code (dependencies, Chromium) behind."""
    images = {}
    with tempfile.TemporaryDirectory(prefix="otakusite-context-") as tmp:
        # One snapshot of the tree for the three builds: files edited meanwhile must not
        # give web and worker different code.
        context = Path(tmp) / "context"
        shutil.copytree(REPO_ROOT, context, ignore=SNAPSHOT_IGNORE, symlinks=True)
        for target in ("code", "web", "worker"):
            name = f"localhost/otakusite-{target}:{tag}"
            podman(
                "build",
                "--isolation",
                "chroot",
                "--format",
                "docker",
                "--secret",
                f"id=build_ca,src={HOST_CA_BUNDLE}",
                "--target",
                target,
                "-t",
                name,
                str(context),
            )
            images[target] = name
    return images


def local_ca_lines() -> list[str]:
    """One distinctive base64 line of each certificate in Debian's local CA folder (the
    package proxy's CA): none may appear anywhere in a shipped image."""
    lines = []
    for crt in sorted(LOCAL_CA_DIR.glob("*.crt")):
        body = [ln for ln in crt.read_text().splitlines() if ln and not ln.startswith("-----")]
        if len(body) > 4:
            lines.append(body[len(body) // 2])
    return lines


def tools_missing() -> str | None:
    """Why the container test cannot run here, or None."""
    import os

    if os.geteuid() != 0:
        return "needs root (podman with runc and bridge networking as root)"
    for tool in ("podman", "buildah", "mmdebstrap", "runc", "iptables"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (.ci/run installs it with apt)"
    if not (Path(sys.executable).parent / "podman-compose").exists():
        return "podman-compose is not installed in this venv (make venv: the dev extra)"
    if not HOST_CA_BUNDLE.exists():
        return f"no CA bundle at {HOST_CA_BUNDLE}"
    return None
