"""Runner placement is shared by the CLI and the API: emulator.runners.placement. Importing it
from here still works for modules written against the old place."""
from emulator.runners.placement import DEFAULT_IMAGE_REPO, Placement, Placer, builtin_algorithm  # noqa: F401
