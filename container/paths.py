"""Every /opt/ml path, rooted at one base directory (SAGEMAKER_BASE_DIR, default /opt/ml).

The layout is part of the contract with the emulator, so it is defined in `container.contract`."""
from container.contract import DEFAULT_BASE_DIR, MLPaths

__all__ = ["DEFAULT_BASE_DIR", "MLPaths"]
