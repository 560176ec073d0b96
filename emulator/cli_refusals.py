"""How a refused request ends an `smlocal` command: `Error: <code>: <message>` and exit 2, the
way the API answers it. One place, used by every command group (train/describe/..., tune)."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

import click

from emulator.spec import RequestValidationError
from emulator.store import StoreError


@contextmanager
def refusals() -> Iterator[None]:
    try:
        yield
    except RequestValidationError as exc:
        click.echo(f"Error: {exc.code}: {exc.message}", err=True)
        sys.exit(2)
    except StoreError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
