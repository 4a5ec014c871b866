#!/usr/bin/env python3
"""A real S3-compatible server for tests (moto in server mode), on loopback.

    python3 scripts/s3_server.py --port 0

Port 0 picks a free port. Once listening it prints one line, ``READY <port>``, to
stdout. It accepts any access key and secret; buckets and objects live in memory and
go when it stops. Runs until SIGTERM or SIGINT.
"""

import argparse
import signal
import sys
import threading

from moto.server import ThreadedMotoServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"READY {server.get_host_and_port()[1]}", flush=True)
    stop.wait()
    server.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
