"""Every template and asset of the console ships in the package (no CDN: nothing else can serve them)."""
import tomllib
from fnmatch import fnmatch
from pathlib import Path

CONSOLE = Path(__file__).resolve().parents[3] / "emulator" / "console"


def test_package_data_covers_every_template_and_static_file():
    pyproject = tomllib.loads((CONSOLE.parents[1] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["emulator.console"]
    files = [p.relative_to(CONSOLE).as_posix() for folder in ("templates", "static")
             for p in (CONSOLE / folder).rglob("*") if p.is_file()]
    missing = [f for f in files if not any(fnmatch(f, pattern) and f.count("/") == pattern.count("/")
                                           for pattern in patterns)]
    assert files and missing == []
    assert (CONSOLE / "static" / "vendor" / "uplot" / "LICENSE").read_text().startswith("The MIT License")
