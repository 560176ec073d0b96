"""Each algorithm is declared once (its spec.py); the container's registry, the emulator's
manifest, the metric definitions and the Makefile all follow that declaration."""
import json
import subprocess
import sys

import pytest

from algorithms import specs
from algorithms.manifest import MANIFEST, render
from container.config import ResourceConfig
from container.errors import ClientError
from container.registry import algorithm_name, check_host_count, load_train
from emulator import algorithms as emulated
from emulator.metrics import definitions_for
from tests.jobtree import REPO


def test_the_checked_in_manifest_is_what_the_specs_say():
    assert MANIFEST.read_text() == render({}), "run: python -m algorithms.manifest --write"


def test_emulator_and_container_know_the_same_algorithms():
    assert tuple(emulated.algorithms({})) == tuple(specs({})) == (
        "image-classification", "object-detection", "semantic-segmentation")
    for name, spec in specs({}).items():
        known = emulated.get(name)
        assert known.multi_host == spec.multi_host
        assert definitions_for(name, ()) == tuple((m.name, m.regex) for m in spec.metrics)
        assert known.objective in dict(known.metric_definitions)
        assert algorithm_name({"SAGEMAKER_ALGORITHM": name}) == name
        assert callable(load_train(name))


def test_a_request_s_own_metric_definitions_replace_the_builtin_ones():
    assert definitions_for("image-classification", (("m", "x=(\\S+)"),)) == (("m", "x=(\\S+)"),)
    assert definitions_for("my-own-image", ()) == ()


def test_the_single_host_rule_comes_from_the_spec():
    two = ResourceConfig("algo-1", ["algo-1", "algo-2"])
    check_host_count("image-classification", two)
    with pytest.raises(ClientError, match="semantic-segmentation trains on a single instance only"):
        check_host_count("semantic-segmentation", two)


def test_extra_manifests_add_algorithms_to_the_emulator(tmp_path):
    extra = tmp_path / "more.json"
    entry = dict(json.loads(MANIFEST.read_text())["image-classification"], name="linear-classifier")
    extra.write_text(json.dumps({"linear-classifier": entry}))
    found = emulated.algorithms({emulated.EXTRA_ENV: str(extra)})
    assert list(found)[-1] == "linear-classifier" and len(found) == 4


def test_the_makefile_builds_an_image_per_algorithm():
    listed = subprocess.run(["make", "-s", "--eval", "print-algorithms: ; @echo $(ALGORITHMS)", "print-algorithms"],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    assert listed == list(specs({}))


def test_the_docs_hyperparameter_tables_are_generated_from_the_schemas():
    from algorithms.hyperparameter_docs import DOCS, rendered

    for name, spec in specs({}).items():
        text = (DOCS / f"{name}.md").read_text()
        assert rendered(text, spec) == text, "run: python -m algorithms.hyperparameter_docs --write"
        assert f"| `{spec.schema.params[0].name}` | required |" in text


def test_hyperparameters_are_the_generated_frozen_typed_classes():
    import dataclasses

    from algorithms.typed_hyperparameters import source, target

    for spec in specs({}).values():
        assert target(spec).read_text() == source(spec), "run: python -m algorithms.typed_hyperparameters --write"
    hp = specs({})["image-classification"].schema.parse({"num_classes": "10", "num_training_samples": "100"})
    assert type(hp).__name__ == "ImageClassificationHyperparameters"
    assert (hp.epochs, hp["epochs"], dict(hp)["optimizer"]) == (30, 30, "sgd")
    with pytest.raises(dataclasses.FrozenInstanceError):
        hp.epochs = 3
    fields = {f.name: f.type for f in dataclasses.fields(hp)}
    assert fields["num_classes"] == "int" and fields["image_shape"] == "tuple[int, int, int]"


def test_the_specs_import_no_mxnet():
    # The serve master, the manifest and the docs generators read the specs; MXNet loads only
    # when a job or a server worker starts.
    probe = "import sys, algorithms; algorithms.specs({}); print(sorted(m for m in ('mxnet', 'gluoncv') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
