"""The image's runtime: the /opt/ml training contract, algorithm-agnostic."""
