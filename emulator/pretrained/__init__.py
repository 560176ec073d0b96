"""Pretrained ImageNet weights for `use_pretrained_model`: the host's model store and how it is
filled (`smlocal pretrained pull|import|list`, docs/pretrained.md).

- table.py: what each algorithm setting reads (from the algorithms' manifest, plain data);
- sources.py: where the public model zoos publish those weights, and their published checksums;
- download.py: resumable HTTP downloads with progress, checksums, archive members;
- check.py: the name/shape check, run by the training stack (a subprocess or the image);
- store.py: the store's layout, records and atomic installs;
- commands.py: pull, import and list, as a library; cli.py: the `smlocal pretrained` commands.
"""


class PretrainedError(Exception):
    """A problem the user can fix (unknown name, bad file, checksum mismatch, no route to the zoo);
    the message names the file or name and what was expected."""
