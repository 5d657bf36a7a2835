"""``python -m tests.fake_origin --port 8001 --seed 1 --size 300``: serve until Ctrl-C."""

from __future__ import annotations

import argparse
import threading

from .server import FakeOrigin


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the fake otakudesu origin.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--size", type=int, default=300)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--challenge", action="store_true", help="start in challenge mode")
    args = parser.parse_args(argv)
    origin = FakeOrigin(seed=args.seed, size=args.size, host=args.host, port=args.port)
    origin.start()
    if args.fault_rate:
        origin.faults(rate=args.fault_rate)
    if args.challenge:
        origin.challenge(True)
    print(origin.base_url, flush=True)
    print(f"embeds on {origin.embed_base}; Ctrl-C stops", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        origin.stop()


if __name__ == "__main__":
    main()
