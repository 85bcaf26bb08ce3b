"""Run the ``tandem`` CLI and SIGKILL it at its N-th side effect (a file opened, renamed or
removed under ``TANDEM_DATA_DIR``, a directory made there, a socket connected), counted by an
audit hook: ``python -m tests.faults.killpoint N index publish <version> --skip-gate``.

N = 0 kills nothing and prints the number of side effects to stderr (``KILLPOINTS <n>``), so a
test can choose points across the whole run. Imports are not counted (they open files outside the
data dir), so the points are the command's own steps.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

_EVENTS = {"open", "os.rename", "os.remove", "os.mkdir", "os.rmdir", "shutil.rmtree"}


def main() -> None:
    kill_at = int(sys.argv[1])
    root = str(Path(os.environ["TANDEM_DATA_DIR"]).resolve())
    seen = 0

    def hook(event: str, args: tuple[Any, ...]) -> None:
        nonlocal seen
        if event == "socket.connect":
            pass
        elif event in _EVENTS and args and isinstance(args[0], (str, os.PathLike)):
            if not os.path.abspath(os.fspath(args[0])).startswith(root):
                return
        else:
            return
        seen += 1
        if seen == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    from tandem_cli.main import app

    sys.addaudithook(hook)
    try:
        app(sys.argv[2:], standalone_mode=False)
    finally:
        sys.stderr.write(f"KILLPOINTS {seen}\n")


if __name__ == "__main__":
    main()
