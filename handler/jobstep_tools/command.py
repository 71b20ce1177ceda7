"""The `jobstep` command's entry point: it loads the CLI (cli.py) and runs it, so that Ctrl-C at any moment, even
while the modules load, ends it with one line and the shell's code for it, never a traceback."""

import signal
import sys

INTERRUPTED = 130  # what a shell reports for a command ended by SIGINT: 128 + 2


def main() -> int:
    try:
        from .cli import main as run

        return run()
    except KeyboardInterrupt:  # before cli.py could handle it: while it loads
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while it says so is the same request
        print("jobstep: interrupted", file=sys.stderr)
        return INTERRUPTED
