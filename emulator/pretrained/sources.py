"""Where the public model zoos publish the weights the algorithms read, with the checksums they
publish (the table is data; `source()` applies a mirror URL and checksum overrides).

- GluonCV (gluoncv/model_zoo/model_store.py of GluonCV 0.10.5): `{repo}gluon/models/{name}-{sha1[:8]}.zip`
  holding `{name}-{sha1[:8]}.params`, whose sha1 is the published one; `{repo}` is Apache MXNet's
  S3 bucket (GluonCV's `apache_repo_url`).
- The MXNet model zoo (example/image-classification/common/modelzoo.py, `imagenet1k-resnet-N`):
  `http://data.mxnet.io/models/imagenet/resnet/N-layers/resnet-N-0000.params`. It publishes no
  checksums (and only plain HTTP), so these files are verified by the name/shape check against
  the network instead (check.py); a --checksums table can pin them.
"""
from __future__ import annotations

from dataclasses import dataclass

from emulator.pretrained import PretrainedError

MXNET_ZOO = "http://data.mxnet.io/models/"
GLUONCV_ZOO = "https://apache-mxnet.s3-accelerate.dualstack.amazonaws.com/"

# name -> path of the checkpoint's params under MXNET_ZOO
MXNET_CHECKPOINTS = {
    "imagenet1k-resnet-18": "imagenet/resnet/18-layers/resnet-18-0000.params",
    "imagenet1k-resnet-34": "imagenet/resnet/34-layers/resnet-34-0000.params",
    "imagenet1k-resnet-50": "imagenet/resnet/50-layers/resnet-50-0000.params",
    "imagenet1k-resnet-101": "imagenet/resnet/101-layers/resnet-101-0000.params",
    "imagenet1k-resnet-152": "imagenet/resnet/152-layers/resnet-152-0000.params",
    "imagenet1k-resnet-200": "imagenet/resnet/200-layers/resnet-200-0000.params",
}
# name -> published sha1 of the .params file (GluonCV's _model_sha1)
GLUONCV_PARAMS = {
    "vgg16_atrous": "4fa2e1ad96b8c8d1ba9e5a43556cd909d70b3985",
    "resnet50_v1": "cc729d95031ca98cf2ff362eb57dee4d9994e4b2",
    "resnet50_v1s": "25a187fa281ddc98afbcd0cc0f0646885b874b80",
    "resnet101_v1s": "bd93a83c05f709a803b1221aeff0b028e6eebb03",
}


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    sha1: str | None     # of the weights file; None: nothing published, the network check decides
    member: str | None   # the weights file inside the zip archive at `url`; None: `url` is the file


def source(name: str, zoo_url: str | None = None, checksums: dict[str, str] | None = None) -> Source:
    """`zoo_url` replaces both zoos' base URLs (a mirror holding their trees, or a test server);
    `checksums` (name -> sha1) replaces published checksums."""
    def base(default: str) -> str:
        return zoo_url.rstrip("/") + "/" if zoo_url else default

    if name in GLUONCV_PARAMS:
        sha1 = GLUONCV_PARAMS[name]
        stem = f"{name}-{sha1[:8]}"
        found = Source(name, f"{base(GLUONCV_ZOO)}gluon/models/{stem}.zip", sha1, f"{stem}.params")
    elif name in MXNET_CHECKPOINTS:
        found = Source(name, base(MXNET_ZOO) + MXNET_CHECKPOINTS[name], None, None)
    else:
        raise PretrainedError(f"No model zoo publishes '{name}' (known: {', '.join([*MXNET_CHECKPOINTS, *GLUONCV_PARAMS])})")
    if checksums and name in checksums:
        found = Source(found.name, found.url, checksums[name].lower(), found.member)
    return found
