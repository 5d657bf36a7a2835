"""Container health check: GET /healthz/live on the local gunicorn, exit 0 when it answers.

Liveness, not readiness: the process answers through Django, nothing more. With the
database or Redis down the site still serves (kept pages, the 503 page), and restarting the
container would not repair them; /healthz/ready (the database required, Redis reported) is
for load balancers and monitoring. HEALTHCHECK_URL overrides the URL.

Sends the first ALLOWED_HOSTS name as Host (Django refuses unknown hosts) and says the
request came over HTTPS (so SECURE_SSL_REDIRECT does not answer 301), exactly as nginx
would forward a real visitor's request. Standard library only: the slim image has no curl.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/healthz/live"


def main() -> int:
    url = os.environ.get("HEALTHCHECK_URL", DEFAULT_URL)
    hosts = [h.strip().lstrip(".") for h in os.environ.get("ALLOWED_HOSTS", "").split(",")]
    host = next((h for h in hosts if h and h != "*"), "localhost")
    request = urllib.request.Request(  # noqa: S310 -- fixed local URL
        url, headers={"Host": host, "X-Forwarded-Proto": "https"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            status = response.status
            body = response.read(2000).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(2000).decode("utf-8", "replace")
    except OSError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    if status != 200:
        print(f"unhealthy: HTTP {status} {body}", file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
