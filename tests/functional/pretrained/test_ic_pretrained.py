"""Image classification with use_pretrained_model=1 starts from what `pull` stored. The MXNet model
zoo publishes no checksums, so pull checks the downloaded checkpoint against ResNet-N itself."""
import mxnet as mx
import numpy as np
import pytest
from click.testing import CliRunner

from algorithms.image_classification import model_io
from emulator.pretrained.cli import pretrained
from tests.functional.image_classification.conftest import base_hp, ic_data, rec_channels, run_ic  # noqa: F401
from tests.functional.pretrained.fill import pull_into
from tests.functional.pretrained.weights import classifier_checkpoint
from tests.functional.pretrained.zoo import LoopbackZoo, publish

pytestmark = pytest.mark.slow


def test_a_job_starts_from_the_checkpoint_pull_stored(run_ic, ic_data, tmp_path, monkeypatch):  # noqa: F811
    _, params, arrays = classifier_checkpoint(tmp_path / "zoo-files", 18)
    store = tmp_path / "store"
    output = pull_into(store, "imagenet1k-resnet-18", params, checksummed=False)
    assert "verified: parameter names and shapes (the zoo publishes no checksum)" in output
    monkeypatch.setenv("SMLOCAL_MODEL_STORE", str(store))
    code, tree = run_ic(base_hp(use_pretrained_model=1, learning_rate=1e-9, momentum=0), rec_channels(ic_data))
    assert code == 0, tree.failure
    trained, _ = model_io.load_params(max(model_io.params_files(tree.model).items())[1])
    body = [k[4:] for k in arrays if k.startswith("arg:") and not k.startswith("arg:fc") and k != "arg:bn_data_gamma"]
    assert body and all(np.allclose(trained[n].asnumpy(), arrays["arg:" + n].asnumpy(), atol=1e-4) for n in body)
    assert trained["fc_weight"].shape == (4, 512)  # the classifier is re-initialised for num_classes


def test_a_zoo_file_that_is_not_the_network_is_not_stored(tmp_path):
    wrong = tmp_path / "resnet-18-0000.params"
    mx.nd.save(str(wrong), {"arg:fc1_weight": mx.nd.zeros((1000, 512))})
    store = tmp_path / "store"
    with LoopbackZoo(tmp_path / "zoo") as zoo:
        publish(zoo.root, "imagenet1k-resnet-18", wrong)
        result = CliRunner().invoke(pretrained, ["pull", "imagenet1k-resnet-18", "--store", str(store),
                                                 "--zoo-url", zoo.url])
    assert result.exit_code == 2
    assert (f"{zoo.url}imagenet/resnet/18-layers/resnet-18-0000.params is not the expected file: "
            in result.output and "is not the ImageNet weights of ResNet-18 of image-classification "
            "(imagenet1k-resnet-18): " in result.output)
    assert not (store / "image-classification" / "resnet-18-0000.params").exists()
    assert not (store / ".partial" / "imagenet1k-resnet-18.params.part").exists()
