"""Object detection (SSD) as the SageMaker built-in."""
