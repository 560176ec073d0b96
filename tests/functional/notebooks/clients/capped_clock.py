"""Run a notebook client script with `time.sleep` capped at $MAX_SLEEP_SECONDS.

The notebooks poll with long sleeps (`time.sleep(60)` loops, botocore waiters every 30-120 s)
and so does the SDK (`fit(logs=True)`, `deploy()`); against a local server the jobs end in
seconds, so those waits would be most of a test's time. Only the waits change: every request the
notebook and the SDK make is the same, and a wait that ends early just polls once more.

    python capped_clock.py SCRIPT [ARGS...]
"""
import os
import runpy
import sys
import time

_sleep = time.sleep
_cap = float(os.environ.get("MAX_SLEEP_SECONDS", "1"))


def _capped_sleep(seconds: float) -> None:
    _sleep(min(seconds, _cap))


time.sleep = _capped_sleep  # before the script imports anything, so `from time import sleep` gets it too
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
