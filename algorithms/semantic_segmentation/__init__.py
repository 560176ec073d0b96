"""Semantic segmentation (FCN, PSP, DeepLabV3 on ResNet-50/101) as the SageMaker built-in."""
