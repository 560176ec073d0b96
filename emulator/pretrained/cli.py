"""`smlocal pretrained pull | import | list`: fill and inspect the model store (docs/pretrained.md)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from emulator.pretrained import PretrainedError
from emulator.pretrained.commands import Zoo, import_files, listing
from emulator.pretrained.commands import pull as pull_weights
from emulator.pretrained.store import DEFAULT_STORE, STORE_ENV, Store, default_store
from emulator.pretrained.table import needed, resolve

STORE_OPTION = click.option("--store", type=click.Path(file_okay=False),
                            help=f"Model store (default ${STORE_ENV}, else {DEFAULT_STORE}).")
IMAGE_OPTION = click.option("--image", help="Run the name/shape check inside this training image "
                                            "(default: this Python, which then needs MXNet).")


def _store(store: str | None) -> Store:
    return Store(Path(store) if store else default_store())


def _fail(message: str) -> None:
    click.echo(f"Error: ClientError: {message}", err=True)
    sys.exit(2)


def _checksums(path: str | None) -> dict[str, str] | None:
    if path is None:
        return None
    try:
        table = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"cannot read {path} as JSON ({exc})", param_hint="--checksums") from None
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise click.BadParameter(f"{path} must hold a JSON object of name -> sha1", param_hint="--checksums")
    return table


@click.group()
def pretrained() -> None:
    """ImageNet weights for use_pretrained_model, in the model store that jobs read."""


@pretrained.command()
@click.argument("names", nargs=-1, metavar="[NAME...]")
@click.option("--all", "everything", is_flag=True, help="Every file any use_pretrained_model setting reads.")
@click.option("--zoo-url", envvar="SMLOCAL_ZOO_URL",
              help="Base URL of a mirror that holds both zoos' trees (default: the public zoos).")
@click.option("--checksums", envvar="SMLOCAL_ZOO_CHECKSUMS", type=click.Path(dir_okay=False, exists=True),
              help="JSON object name -> sha1 that replaces the published checksums (a mirror's own files).")
@click.option("--retries", type=click.IntRange(min=0), default=3, show_default=True,
              help="Retries after a dropped transfer, each resuming where it stopped.")
@STORE_OPTION
@IMAGE_OPTION
def pull(names, everything, zoo_url, checksums, retries, store, image) -> None:
    """Download weights (NAME: a weights or an algorithm name) from the public model zoos, verify
    them against the published checksum (or the network when none is published), store them."""
    table = needed()
    if bool(names) == everything:
        raise click.UsageError(f"Name the weights (or algorithms) to pull, or pass --all. Names: {', '.join(table)}")
    try:
        wanted = list(table.values()) if everything else resolve(names, table)
        errors = pull_weights(wanted, _store(store), Zoo(zoo_url, _checksums(checksums), retries), image, click.echo)
    except PretrainedError as exc:
        _fail(str(exc))
    if errors:
        _fail(f"{len(errors)} of {len(wanted)} weights files were not stored: {'; '.join(errors)}")


@pretrained.command(name="import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="Which weights the files are (default: recognised by their parameter names and shapes).")
@STORE_OPTION
@IMAGE_OPTION
def import_(files, name, store, image) -> None:
    """Store weights you have: an MXNet checkpoint (*-symbol.json and *-NNNN.params) or a GluonCV
    .params file, after checking its parameter names and shapes against the network."""
    try:
        import_files(list(files), _store(store), needed(), name, image, click.echo)
    except PretrainedError as exc:
        _fail(str(exc))


@pretrained.command(name="list")
@STORE_OPTION
def list_(store) -> None:
    """What the store holds, and which hyperparameter settings read each file."""
    the_store = _store(store)
    click.echo(f"Model store: {the_store.root}")
    for row in listing(the_store, needed()):
        size = f"{row['bytes'] / 1e6:.1f} MB" if row["present"] else ""
        click.echo(f"{row['name']:<22} {'present' if row['present'] else 'missing':<8} {size:>9}  {row['used_by']}")
        if row["origin"]:
            click.echo(f"{'':<22} from {row['origin']} (verified: {row['verified']})")
