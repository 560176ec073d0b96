"""The algorithms as plain data, for the emulator (which imports no algorithm code) and the
Makefile: `python -m algorithms.manifest` prints it; `--write` updates emulator/algorithms.json,
which a test keeps equal to what the specs say."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from algorithms import specs

MANIFEST = Path(__file__).resolve().parents[1] / "emulator" / "algorithms.json"


def manifest(environ: dict[str, str] | None = None) -> dict:
    return {name: spec.manifest() for name, spec in specs(environ).items()}


def render(environ: dict[str, str] | None = None) -> str:
    return json.dumps(manifest(environ), indent=1) + "\n"


def main(argv: list[str]) -> int:
    text = render({})  # the built-ins only: extra algorithms come with their own manifests
    if "--write" in argv:
        MANIFEST.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
