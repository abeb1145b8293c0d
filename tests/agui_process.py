"""The AG-UI producer of ``tests/agui_producer.py`` as a process of its own, so a test can kill
it mid-run: ``python tests/agui_process.py [--pause SECONDS]`` serves ``agent_app`` with uvicorn
on 127.0.0.1 and a port the OS chooses, and prints ``listening http://HOST:PORT/agent`` first.
:func:`start_producer` runs it from a test. Imported only by tests marked ``agui``.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from pathlib import Path

__all__ = ["Producer", "start_producer"]


class Producer:
    """A running producer process: ``url`` (its ``/agent`` endpoint) and :meth:`kill`."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url

    def kill(self) -> None:
        """SIGKILL the process and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_producer(pause: float = 0.0) -> Producer:
    """Start the producer process and return it once it listens."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__)), "--pause", str(pause)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    if not first.startswith("listening "):
        process.kill()
        process.wait()
        raise RuntimeError(f"the AG-UI producer did not start: {first!r}")
    return Producer(process, first.split()[1])


def _main() -> None:
    import uvicorn
    from agui_producer import agent_app

    parser = argparse.ArgumentParser()
    parser.add_argument("--pause", type=float, default=0.0)
    args = parser.parse_args()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    server = uvicorn.Server(
        uvicorn.Config(agent_app(args.pause), log_level="warning", lifespan="off")
    )
    print(f"listening http://{host}:{port}/agent", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    _main()
