#!/usr/bin/env python3
# Long-running progress bar: a pretend job of STEPS steps (default 60, one a second) with a live bar and ETA.
# Copy into Toru's scripts directory and chmod +x. Cancel it from Toru to see
# a task stop: SIGTERM ends it with a message. STEPS and STEP_SECONDS in the
# environment change its length.
import os
import signal
import sys
import time

STEPS = int(os.environ.get("STEPS", "60"))
STEP_SECONDS = float(os.environ.get("STEP_SECONDS", "1"))
WIDTH = 40


def stop(signum, frame):
    print(f"\n\033[33mcancelled ({signal.Signals(signum).name})\033[0m", flush=True)
    sys.exit(130)


def bar(done, total, began):
    filled = WIDTH * done // total
    elapsed = time.monotonic() - began
    eta = elapsed / done * (total - done) if done else 0
    return (f"[\033[32m{'#' * filled}\033[0m{'.' * (WIDTH - filled)}] {100 * done // total:3d}% "
            f"{done}/{total}  eta {eta:4.0f} s")


def main():
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"Working through {STEPS} steps…", flush=True)
    began = time.monotonic()
    for step in range(1, STEPS + 1):
        time.sleep(STEP_SECONDS)
        # One line per step: task output is a stream of lines, so a bar
        # redrawn with \r would pile up in the history view.
        print(bar(step, STEPS, began), flush=True)
    print(f"\033[1;32mdone\033[0m in {time.monotonic() - began:.0f} s", flush=True)


if __name__ == "__main__":
    main()
