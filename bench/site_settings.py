"""Settings for `bench/bench_site.py`: production settings plus a hello-world URL.

The hello-world view is the baseline the cached pages are compared with; it lives only
here so the production URLconf never grows a benchmark route.
"""

from otakusite.settings import *  # noqa: F403

ROOT_URLCONF = "bench.site_urls"
