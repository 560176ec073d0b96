"""Hostile archives never change anything outside their extraction folder.

Each archive below tries to write (or link) outside the target: absolute names, `..`, Windows
separators, symbolic and hard links out, chains of links, links that only escape through links
made by earlier (or later) members, devices, FIFOs, oversized headers and a gzip bomb. A canary
tree beside the target is checksummed before and after. The same corpus runs through
`safe_extract` here, on every Python 3.8-3.13 this machine has, through a real warm-start job
of the process runner, and with the Docker image's own Python (Debian's 3.11.2, which has no
tarfile extraction filter).
"""
from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import time
import zlib
from pathlib import Path

import pytest

from container.errors import ClientError
from container.tarsafe import GIB, MIB, safe_extract

REPO = Path(__file__).resolve().parents[2]
EVIL = b"written by a hostile archive"
BOMB_SIZE = 4 * GIB


# ---- the canary: everything outside the target that an escape could reach -------------------

def make_canary(root: Path) -> Path:
    outside = root / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "victim.txt").write_text("keep me")
    (outside / "sub" / "secret.txt").write_text("keep me too")
    os.chmod(outside / "sub" / "secret.txt", 0o600)
    return outside


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under `root` (links not followed): kind, mode, inode links and content hash."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if os.path.islink(path):
                content = os.readlink(path)
            elif os.path.isfile(path):
                content = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            else:
                content = None
            found[os.path.relpath(path, root)] = (st.st_mode, st.st_nlink, content)
    return found


# ---- archives -------------------------------------------------------------------------------

def climb(path: str) -> str:
    """A relative name that reaches absolute `path` from any folder less than 40 levels deep."""
    return "../" * 40 + path.lstrip("/")


def member(kind: str, name: str, arg=None) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.mode = 0o755 if kind == "dir" else 0o644
    if kind == "file":
        data = EVIL if arg is None else arg
        info.size = len(data)
        return info, data
    info.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE,
                 "blk": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}[kind]
    info.linkname = arg or ""
    return info, None


def hostile(outside: Path) -> dict[str, list]:
    """name -> members; every one of these archives must be refused."""
    victim = str(outside / "victim.txt")
    chain = [member("sym", "l0", ".")] + [member("sym", f"l{i}", f"l{i - 1}") for i in range(1, 40)]
    return {
        "absolute-name": [member("file", victim)],
        "dotdot-name": [member("file", climb(victim))],
        "dotdot-inside-name": [member("dir", "a"), member("file", "a/../../victim.txt")],
        "windows-separators": [member("file", climb(victim).replace("/", "\\"))],
        "absolute-symlink": [member("sym", "l", str(outside)), member("file", "l/victim.txt")],
        "escaping-symlink": [member("sym", "l", climb(str(outside))), member("file", "l/victim.txt")],
        # The reported attack: `up -> .`, a hard link through it to a file outside, then a regular
        # member of the hard link's name that would write through it. Read without the links, the
        # hard link's target (up/up/.../../..) stays inside; on the real file system it does not.
        "hard-link-through-symlink-chain": [member("sym", "up", "."), member("hard", "hl", "up/" * 40 + climb(victim)),
                                            member("file", "hl")],
        # d/up -> .. is harmless alone; `s` only escapes on the real file system (lexically it
        # stays inside): target/d/up/d/up/../.. is the target's grandparent, where `outside` is.
        "link-through-earlier-links": [member("sym", "d/up", ".."), member("sym", "s", "d/up/d/up/../.."),
                                       member("file", "s/outside/victim.txt")],
        "long-chain": chain + [member("sym", "esc", "l39/l39/../.."), member("file", "esc/outside/victim.txt")],
        "hard-link-through-long-chain": chain + [member("hard", "hl", "l39/" * 40 + climb(victim)), member("file", "hl")],
        # `a` is inside while `b` does not exist; `b -> .` made later makes `a` the canary folder.
        "escape-through-later-link": [member("sym", "a", "b/b/../../outside"), member("sym", "b", "."),
                                      member("file", "a/victim.txt")],
        "escape-left-for-readers": [member("sym", "a", "b/b/../../outside"), member("sym", "b", ".")],
        "hard-link-absolute": [member("hard", "h", victim), member("file", "h")],
        "hard-link-relative": [member("hard", "h", climb(victim)), member("file", "h")],
        "hard-link-to-folder": [member("dir", "d"), member("hard", "h", "d")],
        "unicode-escaping-symlink": [member("file", "modèle/权重.params", b"w"),
                                     member("sym", "modèle/ссылка", climb(str(outside))),
                                     member("file", "modèle/ссылка/victim.txt")],
        "char-device": [member("chr", "dev")],
        "block-device": [member("blk", "dev")],
        "fifo": [member("fifo", "model_algo-1")],
        "folder-over-symlink": [member("sym", "d", "."), member("dir", "d")],
        "oversized-pax-header": [member("file", "x" * 100_000, b"w")],
    }


def tricky_but_safe() -> dict[str, tuple[list, dict[str, bytes]]]:
    """name -> (members, files expected inside the target with their content)."""
    return {
        "unicode-names": ([member("file", "modèle/权重-0001.params", b"w"), member("file", "ünï côdé.json", b"{}")],
                          {"modèle/权重-0001.params": b"w", "ünï côdé.json": b"{}"}),
        "dot-lookalikes": ([member("file", "\u2025/x", b"1"), member("file", "\uff0e\uff0e/y", b"2")],
                           {"\u2025/x": b"1", "\uff0e\uff0e/y": b"2"}),
        "dot-segments": ([member("file", "./a/./b", b"3"), member("dir", "./")], {"a/b": b"3"}),
        "links-inside": ([member("file", "d/w.params", b"4"), member("sym", "d/l", "w.params"),
                          member("sym", "top", "d/l"), member("hard", "h", "top")],
                         {"d/w.params": b"4", "d/l": b"4", "top": b"4", "h": b"4"}),
        "replaced-hard-link": ([member("file", "f", b"original"), member("hard", "h", "f"), member("file", "h", b"new")],
                               {"f": b"original", "h": b"new"}),
    }


def write_tar(path: Path, members: list, mode: str = "w:gz") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def gzip_bomb(path: Path, size: int = BOMB_SIZE) -> Path:
    """A valid model.tar.gz holding one member of `size` zero bytes, written without compressing
    them all: one deflate segment of 1 MiB of zeros, cut at a byte boundary (sync flush), decodes
    the same wherever it stands after zeros, so it is repeated."""
    info = tarfile.TarInfo("model_algo-1")
    info.size = size
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    tar_size = -(-(len(header) + size + (-size % 512) + 1024) // tarfile.RECORDSIZE) * tarfile.RECORDSIZE
    zeros = tar_size - len(header)
    whole, rest = divmod(zeros, MIB)
    assert whole >= 2, "the repeated segment is only cut from the second MiB on"
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    chunk = bytes(MIB)
    crc = zlib.crc32(header)
    with open(path, "wb") as out:
        out.write(b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x02\xff")  # gzip header
        out.write(compressor.compress(header) + compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH))
        segment = compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)
        out.write(segment * (whole - 1))
        out.write(compressor.compress(bytes(rest)) + compressor.flush(zlib.Z_FINISH))
        for _ in range(whole):
            crc = zlib.crc32(chunk, crc)
        crc = zlib.crc32(bytes(rest), crc)
        out.write(struct.pack("<II", crc, tar_size & 0xFFFFFFFF))
    return path


def damaged(folder: Path) -> dict[str, Path]:
    good = write_tar(folder / "good.tar.gz", [member("file", "model_algo-1", os.urandom(50_000))])
    data = good.read_bytes()
    folder.joinpath("truncated.tar.gz").write_bytes(data[:len(data) // 2])
    folder.joinpath("garbage.tar.gz").write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(3000))
    folder.joinpath("not-an-archive.tar.gz").write_bytes(b"model weights, honestly")
    plain = write_tar(folder / "plain.tar", [member("file", "model_algo-1", os.urandom(50_000))], "w")
    folder.joinpath("truncated.tar").write_bytes(plain.read_bytes()[:20_000])
    return {p.name: p for p in (folder / n for n in (
        "truncated.tar.gz", "garbage.tar.gz", "not-an-archive.tar.gz", "truncated.tar"))}


@pytest.fixture
def corpus(tmp_path):
    """Canary, hostile and tricky archives under tmp_path; work/ is where extractions go."""
    outside = make_canary(tmp_path)
    archives = tmp_path / "archives"
    bad = {name: write_tar(archives / f"{name}.tar.gz", members) for name, members in hostile(outside).items()}
    good = {name: (write_tar(archives / f"{name}.tar.gz", members), expected)
            for name, (members, expected) in tricky_but_safe().items()}
    (tmp_path / "work").mkdir()
    return {"root": tmp_path, "outside": outside, "hostile": bad, "safe": good, "work": tmp_path / "work"}


def assert_unchanged(corpus, before):
    assert snapshot(corpus["outside"]) == before, "an archive changed the canary tree outside its target"


# ---- the routine, in this process -----------------------------------------------------------

@pytest.mark.parametrize("name", sorted(hostile(Path("/x"))))
def test_hostile_archive_is_refused_and_changes_nothing(corpus, name):
    before = snapshot(corpus["outside"])
    archive = corpus["hostile"][name]
    try:
        safe_extract(archive, corpus["work"] / "model")
        refused = ""
    except ClientError as exc:
        refused = str(exc)
    assert_unchanged(corpus, before)
    assert f"archive {archive.name}: " in refused
    assert list(corpus["work"].iterdir()) == []  # neither the target nor a staging folder is left


@pytest.mark.parametrize("name", sorted(tricky_but_safe()))
def test_tricky_but_safe_archive_extracts_inside(corpus, name):
    before = snapshot(corpus["outside"])
    archive, expected = corpus["safe"][name]
    out = safe_extract(archive, corpus["work"] / "model")
    assert {rel: (out / rel).read_bytes() for rel in expected} == expected
    assert_unchanged(corpus, before)
    assert [p.name for p in corpus["work"].iterdir()] == ["model"]


@pytest.mark.parametrize("name", ["truncated.tar.gz", "garbage.tar.gz", "not-an-archive.tar.gz", "truncated.tar"])
def test_damaged_archive_is_a_client_error_naming_it(tmp_path, name):
    archive = damaged(tmp_path / "archives")[name]
    with pytest.raises(ClientError, match=rf"Cannot read archive {name}: .*expected a complete tar archive"):
        safe_extract(archive, tmp_path / "work" / "model")
    assert list((tmp_path / "work").iterdir()) == []


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    return gzip_bomb(tmp_path_factory.mktemp("bomb") / "model.tar.gz")


def test_gzip_bomb_fails_fast_naming_the_limit_and_leaves_nothing(tmp_path, bomb):
    assert bomb.stat().st_size < 5 * MIB
    started = time.monotonic()
    with pytest.raises(ClientError, match=r"model.tar.gz expands to more than 1.0 GiB, the limit set by 100 times "
                                          r"the archive's \d.\d MiB .*SMLOCAL_ARCHIVE_MAX_EXPANSION.*4.0 GiB"):
        safe_extract(bomb, tmp_path / "work" / "model")
    assert time.monotonic() - started < 2.0
    assert list((tmp_path / "work").iterdir()) == []


def test_a_warm_start_is_bounded_by_the_jobs_volume_when_the_job_config_says(tmp_path, bomb):
    """SageMaker's trainingjobconfig.json carries ResourceConfig.VolumeSizeInGB; the input data
    staged on the volume counts against it."""
    from algorithms.common.warm_start import model_channel_dir
    from container.config import TrainingEnv
    from container.paths import MLPaths
    from tests.jobtree import make_tree

    data = tmp_path / "train.rec"
    data.write_bytes(bytes(3 * MIB))
    tree = make_tree(tmp_path / "job", {}, {"train": {"files": [data]},
                                            "model": {"files": [bomb], "content_type": "application/x-sagemaker-model"}})
    config = {"TrainingJobName": "j", "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                                         "VolumeSizeInGB": 1}}
    (tree.base / "input" / "config" / "trainingjobconfig.json").write_text(json.dumps(config))
    with pytest.raises(ClientError, match=r"model.tar.gz expands to more than 101\d.\d MiB, the limit set by "
                                          r"ResourceConfig.VolumeSizeInGB = 1 less the \d.\d MiB of input data"):
        model_channel_dir(TrainingEnv.read(MLPaths(tree.base)))
    assert not list((tree.base / "input" / "work").iterdir())


def test_the_bomb_is_a_valid_archive_that_really_expands():
    """The builder's trick, checked at a size that decompresses quickly."""
    data = gzip_bomb_bytes(3 * MIB + 123)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        (info,) = tar.getmembers()
        assert info.size == 3 * MIB + 123 and tar.extractfile(info).read() == bytes(info.size)


def gzip_bomb_bytes(size: int) -> bytes:
    import gzip
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        data = gzip_bomb(Path(folder) / "b.tar.gz", size).read_bytes()
    assert len(gzip.decompress(data)) % tarfile.RECORDSIZE == 0  # checks the CRC and length too
    return data


# ---- every Python the image or a user may have ---------------------------------------------

PROBE = r"""
import json, sys
from pathlib import Path
from container.errors import ClientError
from container.tarsafe import safe_extract
results = {}
for name, archive, target in json.loads(sys.argv[1]):
    try:
        safe_extract(Path(archive), Path(target))
        results[name] = "ok"
    except ClientError as exc:
        results[name] = "ClientError: %s" % exc
    except Exception as exc:
        results[name] = "%s: %s" % (type(exc).__name__, exc)
print(json.dumps(results))
"""


def probe_jobs(corpus, work: Path) -> str:
    items = [(n, str(a), str(work / n)) for n, a in corpus["hostile"].items()]
    items += [(n, str(a), str(work / n)) for n, (a, _) in corpus["safe"].items()]
    return json.dumps(items)


def check_probe(corpus, results: dict, work: Path, before) -> None:
    assert_unchanged(corpus, before)
    assert {n: r for n, r in results.items() if n in corpus["hostile"] and not r.startswith("ClientError")} == {}
    assert {n: r for n, r in results.items() if n in corpus["safe"] and r != "ok"} == {}
    for name, (_, expected) in corpus["safe"].items():
        assert {rel: (work / name / rel).read_bytes() for rel in expected} == expected
    assert sorted(p.name for p in work.iterdir()) == sorted(corpus["safe"])


def pythons() -> list[str]:
    found = {f"{sys.version_info.major}.{sys.version_info.minor}": sys.executable}
    for exe in sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3"))):
        minor = int(Path(exe).parents[1].name.split(".")[1])
        if 8 <= minor <= 13:
            found.setdefault(f"3.{minor}", exe)
    return [found[k] for k in sorted(found, key=lambda v: int(v.split(".")[1]))]


def test_every_python_from_3_8_to_3_13_refuses_the_same_archives(corpus):
    before = snapshot(corpus["outside"])
    tried = []
    for exe in pythons():
        work = corpus["root"] / f"work-{Path(exe).parents[1].name}-{len(tried)}"
        work.mkdir()
        run = subprocess.run([exe, "-I", "-c", f"import sys; sys.path.insert(0, {str(REPO)!r})\n" + PROBE,
                              probe_jobs(corpus, work)], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        check_probe(corpus, json.loads(run.stdout), work, before)
        version = subprocess.run([exe, "-c", "import sys; print(sys.version.split()[0])"],
                                 capture_output=True, text=True).stdout.strip()
        tried.append(version)
    print("Pythons checked:", tried)
    assert tried


# ---- a real warm-start job through the process runner ---------------------------------------

@pytest.fixture(scope="module")
def tiny_train(tmp_path_factory):
    from emulator.sample_data import make_classification_set

    root = tmp_path_factory.mktemp("ic")
    return {name: make_classification_set(root / name, 4, 2, size=(32, 32), seed=i)
            for i, name in enumerate(("train", "validation"))}


def warm_start_job(tmp_path, tiny_train, model_archive: Path, name: str):
    from tests.ic_jobs import channel, request, run

    model_dir = tmp_path / "model-channel-source"
    model_dir.mkdir()
    shutil.copy(model_archive, model_dir / "model.tar.gz")
    channels = [channel("train", tiny_train["train"]["rec"]), channel("validation", tiny_train["validation"]["rec"]),
                channel("model", model_dir, content_type="application/x-sagemaker-model")]
    body = request(name, channels, tmp_path / "output", num_training_samples=8, epochs=1)
    return run(body, tmp_path / "home")


@pytest.mark.slow
@pytest.mark.parametrize("archive,reason", [
    ("hard-link-through-symlink-chain", "Unsafe archive model.tar.gz: member 'hl' links to "),
    ("link-through-earlier-links", "Unsafe archive model.tar.gz: member 's' links to "),
    ("truncated.tar.gz", "Cannot read archive model.tar.gz: "),
])
def test_warm_start_job_with_a_hostile_or_damaged_model_channel_fails_cleanly(corpus, tiny_train, archive, reason):
    before = snapshot(corpus["outside"])
    source = corpus["hostile"].get(archive) or damaged(corpus["root"] / "damaged")[archive]
    job = warm_start_job(corpus["root"], tiny_train, source, f"model-{archive.replace('.', '-')}")
    assert_unchanged(corpus, before)
    assert job.result.status == "Failed"
    assert job.result.failure_reason.startswith("ClientError: " + reason)
    work = job.dir.host_base("algo-1") / "input" / "work"
    assert not (work / "model-channel").exists() and not list(work.glob(".model-channel.*"))


@pytest.mark.slow
def test_warm_start_job_with_a_gzip_bomb_fails_naming_the_limit(tmp_path, tiny_train, bomb):
    job = warm_start_job(tmp_path, tiny_train, bomb, "gzip-bomb")
    assert job.result.status == "Failed"
    # The job's volume (VolumeSizeInGB 1, from trainingjobconfig.json) is the tightest bound here.
    assert job.result.failure_reason.startswith("ClientError: Archive model.tar.gz expands to more than ")
    assert "the limit set by ResourceConfig.VolumeSizeInGB = 1" in job.result.failure_reason
    assert "member 'model_algo-1' (4.0 GiB)" in job.result.failure_reason
    work = job.dir.host_base("algo-1") / "input" / "work"
    assert not list(work.glob("*model-channel*"))


# ---- the Docker image's Python (Debian 3.11.2, no extraction filter) -------------------------

@pytest.mark.docker
def test_image_python_refuses_the_same_archives(corpus):
    from tests.integration.conftest import IMAGE_REPO, IMAGE_TAG, unavailable

    image = f"{IMAGE_REPO}/image-classification:{IMAGE_TAG}"
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode != 0:
        unavailable(f"image {image} is not built (make build)")
    before = snapshot(corpus["outside"])
    work = corpus["work"]
    root = str(corpus["root"])
    run = subprocess.run(["docker", "run", "--rm", "--network", "none", "-v", f"{root}:{root}",
                          "--entrypoint", "python", image, "-c", PROBE, probe_jobs(corpus, work)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    check_probe(corpus, json.loads(run.stdout), work, before)


# ---- well-formed archives holding damaged models ---------------------------------------------

BAD_SYMBOLS = {
    "truncated-json": b'{"nodes": [{"op": "null", "name": "data"',
    "binary": b"\x89PNG\r\n\x1a\n\x00\xff\xfe",
    "no-nodes": b'{"heads": [[0, 0, 0]]}',
    "nodes-not-a-list": b'{"nodes": 3}',
    "node-without-op": b'{"nodes": [{"name": "data"}]}',
    "a-list": b"[1, 2, 3]",
}


def tiny_params(path: Path) -> Path:
    import mxnet as mx

    mx.nd.save(str(path), {"arg:fc1_weight": mx.nd.ones((2, 3)), "aux:bn_moving_mean": mx.nd.zeros(3)})
    return path


def extracted_model(tmp_path: Path, files: dict[str, bytes]) -> Path:
    """`files` packed into model.tar.gz and extracted the way a warm start does."""
    archive = write_tar(tmp_path / "model.tar.gz", [member("file", name, data) for name, data in files.items()])
    return safe_extract(archive, tmp_path / "model")


@pytest.mark.parametrize("damage", sorted(BAD_SYMBOLS))
def test_malformed_symbol_json_is_a_client_error_naming_the_file(tmp_path, damage):
    from algorithms.image_classification import model_io as ic
    from algorithms.object_detection import model_io as od

    params = tiny_params(tmp_path / "p.params").read_bytes()
    ic_dir = extracted_model(tmp_path / "ic", {"image-classification-symbol.json": BAD_SYMBOLS[damage],
                                               "image-classification-0001.params": params})
    with pytest.raises(ClientError, match=r"^image-classification-symbol.json in the model channel is malformed; "
                                          r"expected an MXNet symbol file"):
        ic.read_saved_model(ic_dir)
    od_dir = extracted_model(tmp_path / "od", {"model_algo_1-symbol.json": BAD_SYMBOLS[damage],
                                               "model_algo_1-0000.params": params, "hyperparams.json": b"{}"})
    with pytest.raises(ClientError, match=r"^model_algo_1-symbol.json in channel 'model' is malformed"):
        od.read_saved_model(od_dir, "channel 'model'")


def test_a_class_count_that_is_not_a_number_is_a_client_error(tmp_path):
    from algorithms.image_classification import model_io as ic

    symbol = json.dumps({"nodes": [{"op": "FullyConnected", "name": "fc1", "attrs": {"num_hidden": "ten"}}]})
    model = extracted_model(tmp_path, {"image-classification-symbol.json": symbol.encode(),
                                       "image-classification-0001.params": tiny_params(tmp_path / "p").read_bytes()})
    with pytest.raises(ClientError, match="num_hidden is 'ten', expected a whole number"):
        ic.read_saved_model(model)


@pytest.mark.parametrize("damage", ["truncated", "empty", "unnamed-arrays"])
def test_damaged_params_are_client_errors_naming_the_file(tmp_path, damage):
    import mxnet as mx

    from algorithms.image_classification import model_io as ic
    from algorithms.semantic_segmentation import model_io as ss

    data = tiny_params(tmp_path / "p").read_bytes()
    if damage == "unnamed-arrays":
        mx.nd.save(str(tmp_path / "p"), [mx.nd.ones(3)])
        data = (tmp_path / "p").read_bytes()
    data = {"truncated": data[:len(data) // 2], "empty": b""}.get(damage, data)
    ic_dir = extracted_model(tmp_path / "ic", {"image-classification-0001.params": data})
    with pytest.raises(ClientError, match=r"model parameters image-classification-0001.params: .*expected an MXNet "
                                          r"parameter file of named arrays"):
        ic.load_params(ic_dir / "image-classification-0001.params")
    if damage != "unnamed-arrays":
        ss_dir = extracted_model(tmp_path / "ss", {"model_algo-1": data})
        with pytest.raises(ClientError, match=r"Cannot read model_algo-1 in channel 'model': damaged or not MXNet"):
            ss.read_saved_model(ss_dir, "channel 'model'")


def test_an_interrupted_params_write_keeps_the_previous_file_and_leaves_no_partial_one(tmp_path, monkeypatch):
    import mxnet as mx

    from algorithms.image_classification import model_io as ic

    path = ic.params_path(tmp_path, 1)
    ic.save_params(path, {"w": mx.nd.ones(2)}, {})
    previous = path.read_bytes()

    def killed_midway(name, arrays):
        Path(name).write_bytes(b"half a file")
        raise KeyboardInterrupt  # as a signal would, mid-write

    monkeypatch.setattr(mx.nd, "save", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        ic.save_params(path, {"w": mx.nd.zeros(2)}, {})
    assert path.read_bytes() == previous and sorted(p.name for p in tmp_path.iterdir()) == [path.name]
