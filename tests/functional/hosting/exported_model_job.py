"""A stand-in for `python -m container train` whose "training" copies a model that the algorithm's
own export code wrote (random weights; tests/functional/serving/models.py), for tests of what
comes after training: `<SMLOCAL_TEST_MODELS>/<SAGEMAKER_ALGORITHM>/*` -> /opt/ml/model. The job's
model.tar.gz is then exactly what a real job of that algorithm packs, in a second."""
import os
import shutil
from pathlib import Path

algorithm = os.environ["SAGEMAKER_ALGORITHM"]
source = Path(os.environ["SMLOCAL_TEST_MODELS"]) / algorithm
model_dir = Path(os.environ["SAGEMAKER_BASE_DIR"]) / "model"
model_dir.mkdir(parents=True, exist_ok=True)
for path in sorted(source.iterdir()):
    shutil.copy2(path, model_dir / path.name)
print(f"Copied the exported {algorithm} model: {', '.join(sorted(p.name for p in source.iterdir()))}", flush=True)
