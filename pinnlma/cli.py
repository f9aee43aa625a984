"""The ``pinnlma`` command line: list | run | reproduce | bench | info | setup-legate."""
from __future__ import annotations

import argparse
import sys


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit code 2."""


def _cmd_info(args: argparse.Namespace) -> int:
    from .info import info_lines

    for line in info_lines(check_legate=not args.no_legate):
        print(line)
    return 0


def _cmd_setup_legate(args: argparse.Namespace) -> int:
    from .backends.legate_setup import main as setup_main

    return setup_main(["--force"] if args.force else [])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pinnlma", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="versions, backends and devices")
    p.add_argument("--no-legate", action="store_true", help="skip the (slow) cupynumeric start-up check")
    p.set_defaults(func=_cmd_info)
    p = sub.add_parser("setup-legate", help="provision the CPU driver library cupynumeric needs (CPU-only Linux)")
    p.add_argument("--force", action="store_true", help="download again even if already provisioned")
    p.set_defaults(func=_cmd_setup_legate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as err:
        print(f"pinnlma: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pinnlma: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
