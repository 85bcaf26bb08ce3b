#!/usr/bin/env python3
"""The whole Tandem stack in containers on one machine, driven with podman (or docker).

    python3 scripts/stack.py images [--registry|--local] [--no-cache]   # build every image
    python3 scripts/stack.py up                     # secrets, configs, start, wait on healthchecks
    python3 scripts/stack.py down [--volumes]       # remove the containers (and the volumes)
    python3 scripts/stack.py switch [blue|green]    # blue-green: move the proxy to a track
    python3 scripts/stack.py status

`make images`, `make stack`, `make stack-down` and `make stack-e2e` call it. The services are
those of docker/compose.yaml, the one catalogue (stack_catalogue.py reads it); the host network
they share here is the only thing added to them (stack_hostnet.py). The other modules:
stack_engine.py (podman or docker), stack_images.py (bases, builds), stack_secrets.py
(var/stack/stack.env), stack_configs.py (the rendered proxy and Prometheus files, the live
track), stack_lifecycle.py (up, down, switch, status). Needs PyYAML besides the standard library.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stack_hostnet as hostnet
import stack_images as images
import stack_lifecycle as lifecycle
from stack_engine import StackError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    build = sub.add_parser("images", help="build every image")
    mode = build.add_mutually_exclusive_group()
    mode.add_argument("--local", action="store_const", const="local", dest="mode")
    mode.add_argument("--registry", action="store_const", const="registry", dest="mode")
    build.add_argument("--no-cache", action="store_true")
    build.add_argument(
        "--worktree", action="store_true", help="build the working tree, not the commit HEAD"
    )
    sub.add_parser("up", help="start the stack and wait on its healthchecks")
    d = sub.add_parser("down", help="remove the stack's containers")
    d.add_argument("--volumes", action="store_true", help="also remove its volumes")
    s = sub.add_parser("switch", help="blue-green: move the proxy to a track")
    s.add_argument("track", nargs="?", choices=hostnet.TRACKS)
    sub.add_parser("status")
    args = parser.parse_args(argv)
    commands: dict[str, Callable[[], object]] = {
        "images": lambda: images.build_images(
            args.mode or ("registry" if images.registry_answers() else "local"),
            no_cache=args.no_cache,
            worktree=args.worktree,
        ),
        "up": lifecycle.up,
        "down": lambda: lifecycle.down(volumes=args.volumes),
        "switch": lambda: lifecycle.switch(args.track),
        "status": lifecycle.status,
    }
    try:
        result = commands[args.cmd]()
    except StackError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
