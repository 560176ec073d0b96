"""The weights table: every use_pretrained_model setting has a store file, every store file a
public source, and the algorithms and the emulator agree on names, paths and the store's default."""
import pytest

from algorithms import specs
from algorithms.common import model_store
from container.errors import ClientError
from emulator.pretrained import PretrainedError
from emulator.pretrained.check import check_command
from emulator.pretrained.sources import GLUONCV_ZOO, MXNET_ZOO, source
from emulator.pretrained.store import DEFAULT_STORE, default_store
from emulator.pretrained.table import needed, resolve

# The hyperparameter that chooses the weights, per algorithm, and the values that read a file.
SELECTORS = {"image-classification": ("num_layers", (18, 34, 50, 101, 152, 200)),
             "object-detection": ("base_network", ("vgg-16", "resnet-50")),
             "semantic-segmentation": ("backbone", ("resnet-50", "resnet-101"))}


def test_every_setting_that_reads_weights_has_its_own_file():
    files = set()
    for algorithm, (key, values) in SELECTORS.items():
        param = next(p for p in specs({})[algorithm].schema.params if p.name == key)
        assert set(values) <= set(param.choices)
        for value in values:
            weights = model_store.weights_for(algorithm, {key: value})
            assert weights.file.startswith(algorithm + "/")
            files.add(weights.file)
    assert len(files) == 10


def test_the_emulator_reads_the_same_table_and_every_entry_has_a_public_source():
    table = needed({})
    assert [(n.algorithm, n.name, n.file) for n in table.values()] == [
        (algorithm, w.name, w.file) for algorithm, spec in specs({}).items() for w in spec.pretrained]
    for name in table:
        found = source(name)
        if table[name].form == "gluon":
            assert found.url == f"{GLUONCV_ZOO}gluon/models/{name}-{found.sha1[:8]}.zip"
            assert found.member == f"{name}-{found.sha1[:8]}.params" and len(found.sha1) == 40
        else:
            layers = table[name].settings["num_layers"]
            assert found.url == f"{MXNET_ZOO}imagenet/resnet/{layers}-layers/resnet-{layers}-0000.params"
            assert found.sha1 is None and found.member is None


def test_a_mirror_and_a_checksum_table_replace_the_zoos_and_their_checksums():
    mirror = source("resnet50_v1", zoo_url="http://127.0.0.1:9/zoo", checksums={"resnet50_v1": "AB" * 20})
    assert mirror.url == "http://127.0.0.1:9/zoo/gluon/models/resnet50_v1-cc729d95.zip"
    assert mirror.sha1 == "ab" * 20
    assert source("imagenet1k-resnet-18", zoo_url="http://m/").url == \
        "http://m/imagenet/resnet/18-layers/resnet-18-0000.params"


def test_names_and_algorithm_names_resolve():
    table = needed({})
    assert [n.name for n in resolve(["object-detection", "resnet50_v1"], table)] == ["vgg16_atrous", "resnet50_v1"]
    with pytest.raises(PretrainedError, match="Unknown pretrained weights 'vgg16'"):
        resolve(["vgg16"], table)


def test_the_algorithms_and_the_emulator_default_to_the_same_host_store(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert model_store.DEFAULT_MODEL_STORE == DEFAULT_STORE
    assert model_store.model_store({}) == default_store({}) == tmp_path / ".smlocal" / "models"
    assert model_store.model_store({"SMLOCAL_MODEL_STORE": "/x"}) == default_store({"SMLOCAL_MODEL_STORE": "/x"})


def test_a_missing_file_names_the_command_that_fixes_it(tmp_path):
    with pytest.raises(ClientError) as raised:
        model_store.pretrained_file("object-detection", {"base_network": "vgg-16"},
                                    environ={"SMLOCAL_MODEL_STORE": str(tmp_path)})
    message = str(raised.value)
    assert f"at {tmp_path}/object-detection/vgg16_atrous.params, which does not exist" in message
    assert "Run `smlocal pretrained pull vgg16_atrous`" in message
    assert "`smlocal pretrained import FILE... --name vgg16_atrous`" in message
    assert message.endswith("Or set use_pretrained_model=0")


def test_the_check_runs_in_the_image_without_network_and_with_read_only_inputs(tmp_path):
    weights = tmp_path / "w.params"
    command = check_command([weights], "resnet50_v1s", tmp_path / "out", "smlocal/semantic-segmentation:latest")
    assert command[:6] == ["docker", "run", "--rm", "--network", "none", "--user"]
    assert ["-v", f"{weights}:/in/0/w.params:ro"] == command[command.index("-v"):command.index("-v") + 2]
    assert command[command.index("smlocal/semantic-segmentation:latest") + 1:] == [
        "-m", "algorithms.common.pretrained_check", "--output", "/out", "--name", "resnet50_v1s", "/in/0/w.params"]


def test_smlocal_has_the_pretrained_commands(tmp_path):
    from click.testing import CliRunner

    from emulator.cli import main

    result = CliRunner().invoke(main, ["pretrained", "list", "--store", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"Model store: {tmp_path}"
    assert len(result.output.splitlines()) == 1 + len(needed({}))
