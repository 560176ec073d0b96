"""The List operations' paging: NextToken is an opaque token carrying the offset of the next page."""
from __future__ import annotations

import base64
import binascii
import json

from emulator.api.errors import ApiError

DEFAULT_LIST_RESULTS = 10


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        if isinstance(offset, int) and offset >= 0:
            return offset
    except (binascii.Error, ValueError, KeyError, TypeError):
        pass
    raise ApiError("ValidationException", "The NextToken is not valid: pass the NextToken of the previous response "
                                          "unchanged.")
