"""Fill a model store the way a user does, for the training tests: `smlocal pretrained pull` from
a loopback zoo, or `smlocal pretrained import` of files the test wrote."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from click.testing import CliRunner

from emulator.pretrained.cli import pretrained
from tests.functional.pretrained.zoo import LoopbackZoo, publish


def pull_into(store: Path, name: str, weights: Path, checksummed: bool = True) -> str:
    """Serve `weights` as `name` and pull it; `checksummed=False` leaves the zoo without a
    checksum for it (as the MXNet model zoo), so pull checks the network instead."""
    with tempfile.TemporaryDirectory() as root, LoopbackZoo(Path(root) / "zoo") as zoo:
        sha1 = publish(zoo.root, name, weights)
        table = Path(root) / "checksums.json"
        table.write_text(json.dumps({name: sha1} if checksummed else {}))
        result = CliRunner().invoke(pretrained, ["pull", name, "--store", str(store), "--zoo-url", zoo.url,
                                                 "--checksums", str(table)])
    assert result.exit_code == 0, result.output
    return result.output


def import_into(store: Path, files: list[Path], *options: str):
    return CliRunner().invoke(pretrained, ["import", *map(str, files), "--store", str(store), *options])
