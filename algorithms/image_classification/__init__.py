"""Image classification (pre-activation ResNet) as the SageMaker built-in."""
