#!/usr/bin/env python3
"""A real SMTP server for tests: accepts every message and writes it to a folder.

    python3 scripts/smtp_sink.py --host 127.0.0.1 --port 0 --dir /tmp/mail

Plain SMTP on loopback (no TLS, no AUTH). Port 0 picks a free port. Once listening it
prints one line, ``READY <port>``, to stdout. Each message becomes ``<dir>/<n>.eml``
(n = 1, 2, 3, ... in arrival order; compare numerically, not as text), written to a
temporary file and renamed, so a reader never sees half a message. The file holds the
raw message as received, preceded by two added headers, ``X-Envelope-From:`` and
``X-Envelope-To:`` (recipients comma separated). Runs until SIGTERM or SIGINT.
"""

import argparse
import asyncio
import os
import re
import signal
import sys
from pathlib import Path

from aiosmtpd.smtp import SMTP


class FolderHandler:
    """aiosmtpd handler writing each accepted message to one numbered file."""

    def __init__(self, folder: Path):
        self.folder = folder
        # Continue after files left by an earlier run instead of overwriting them.
        numbers = [int(m.group(1)) for p in folder.iterdir() if (m := re.fullmatch(r"(\d+)\.eml", p.name))]
        self.last = max(numbers, default=0)

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        newline = b"\r\n" if b"\r\n" in content else b"\n"
        added = (
            b"X-Envelope-From: " + (envelope.mail_from or "").encode("utf-8") + newline
            + b"X-Envelope-To: " + ", ".join(envelope.rcpt_tos).encode("utf-8") + newline
        )
        self.last += 1
        final = self.folder / f"{self.last}.eml"
        temporary = self.folder / f".{self.last}.eml.tmp"
        with open(temporary, "wb") as f:
            f.write(added + content)
        os.replace(temporary, final)
        return "250 OK: message stored"


async def serve(host: str, port: int, folder: Path) -> None:
    handler = FolderHandler(folder)
    loop = asyncio.get_running_loop()
    # A fixed hostname: the default looks up the FQDN, which can stall without DNS.
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="smtp-sink.localhost", decode_data=False, enable_SMTPUTF8=True),
        host=host,
        port=port,
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bound = server.sockets[0].getsockname()[1]
    print(f"READY {bound}", flush=True)
    await stop.wait()
    # No wait_closed(): a client that keeps its connection open (a pooled mailer)
    # must not keep the sink alive; leaving the process closes every socket.
    server.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    parser.add_argument("--dir", required=True, type=Path, help="folder for the received .eml files")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(args.host, args.port, args.dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
