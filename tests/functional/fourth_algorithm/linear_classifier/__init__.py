"""A fourth algorithm, declared like the built-ins: a linear (softmax) classifier of float32
feature vectors in RecordIO. It lives in this one folder; an installation adds it with
SMLOCAL_EXTRA_ALGORITHMS (its spec module) and SMLOCAL_ALGORITHM_MANIFESTS (its manifest)."""
