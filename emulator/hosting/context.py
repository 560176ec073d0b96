"""What endpoints and transform jobs share: where they keep things, how they reach data and servers."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from emulator.runners.placement import Placer
from emulator.hosting.logbook import LogBook
from emulator.hosting.records import Resources
from emulator.hosting.servers import ServerFactory
from emulator.spec import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, RequestValidationError, path_segment
from emulator.storage import Storage

# SIGTERM -> SIGKILL when an endpoint or transform job ends its servers: gunicorn lets in-flight
# requests finish in that time.
DEFAULT_STOP_GRACE_SECONDS = 30.0


@dataclass
class HostingContext:
    root: Path                    # $SMLOCAL_HOME: endpoints/ and transform-jobs/ go below it
    resources: Resources
    logs: LogBook
    storage: Storage
    placer: Placer
    servers: ServerFactory
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT_ID
    stop_grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS

    def arn(self, kind: str, name: str) -> str:
        # SageMaker's ARNs hold the name lower-cased.
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{kind}/{name.lower()}"

    def folder(self, kind: str, name: str) -> Path:
        """Where a resource keeps its files; names become paths only through path_segment."""
        return self.root / f"{kind}s" / path_segment(name.lower(), f"The {kind} name")


def instance_id() -> str:
    """An EC2-style instance id, which names the instance's log stream (AllTraffic/i-...)."""
    return "i-" + secrets.token_hex(9)[:17]


def not_found(kind_label: str, arn: str) -> RequestValidationError:
    # The wording the SDK looks for ("Could not find") to tell a missing resource.
    return RequestValidationError(f'Could not find {kind_label} "{arn}".')


def already_exists(kind_label: str, arn: str) -> RequestValidationError:
    # "Cannot create already existing model" is what the SDK matches to reuse a model.
    return RequestValidationError(f'Cannot create already existing {kind_label} "{arn}".')
