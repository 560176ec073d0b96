"""Where the real SageMaker built-in artifacts the tests compare with live (symbol graphs and
model-shapes.json of a built-in job, outside the repository): SMLOCAL_REFERENCE_ARTIFACTS, by default
the machine's shared reference folder."""
import os
from pathlib import Path

REFERENCE_ARTIFACTS = Path(os.environ.get("SMLOCAL_REFERENCE_ARTIFACTS", "/work/shared/reference/artifacts"))
