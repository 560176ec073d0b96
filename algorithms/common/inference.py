"""What the three algorithms' inference shares: which request bodies are images, Accept
negotiation, reading a saved model's settings, JSON bodies, and the SageMaker SDK's
RecordIO-protobuf `Record` (sagemaker/amazon/record.proto, package `aialgs.data`).

Errors the caller can fix are `RequestError`s with the HTTP status the server answers.
"""
from __future__ import annotations

import json
import struct
from functools import lru_cache

import mxnet as mx
import numpy as np

from algorithms.common.schema import Schema
from container.errors import ClientError
from container.serve import RequestError

JPEG, PNG = "image/jpeg", "image/png"
IMAGE_CONTENT_TYPES = (JPEG, PNG, "application/x-image")
OCTET_STREAM = "application/octet-stream"  # the SDK's default serializer sends images as this
_MAGIC = {JPEG: b"\xff\xd8\xff", PNG: b"\x89PNG\r\n\x1a\n"}


def media_type(header: str | None) -> tuple[str, dict[str, str]]:
    """`"Application/JSON; annotation=1"` -> ("application/json", {"annotation": "1"})."""
    if not header:
        return "", {}
    kind, *params = header.split(";")
    parsed = {}
    for param in params:
        key, _, value = param.partition("=")
        if key.strip():
            parsed[key.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), parsed


def sniff_image(body: bytes) -> str | None:
    return next((kind for kind, magic in _MAGIC.items() if body.startswith(magic)), None)


def check_image_request(body: bytes, content_type: str | None) -> None:
    """One encoded JPEG or PNG image per request: the built-ins' image content types, or
    application/octet-stream (or no Content-Type) when the bytes are a JPEG or PNG."""
    if not body:
        raise RequestError(400, "The request body is empty: send one JPEG or PNG image")
    kind, _ = media_type(content_type)
    if kind in IMAGE_CONTENT_TYPES:
        return
    accepted = ", ".join(IMAGE_CONTENT_TYPES)
    if kind in ("", OCTET_STREAM):
        if sniff_image(body):
            return
        raise RequestError(415, f"The request body ({kind or 'no Content-Type'}) is not a JPEG or PNG image; "
                                f"send one image with Content-Type {accepted}")
    raise RequestError(415, f"Content-Type {kind} is not supported; use {accepted} (or {OCTET_STREAM} "
                            f"with JPEG or PNG bytes)")


def negotiate(accept: str | None, offered: tuple[str, ...]) -> str:
    """The offered response type the Accept header asks for; the first offered type (the
    built-in's default) for a missing Accept, `*/*` or `type/*`. Offered types may carry a
    parameter that matters (`application/json;annotation=1`); `q` orders the choices."""
    if not accept or not accept.strip():
        return offered[0]
    wanted = []
    for position, entry in enumerate(accept.split(",")):
        kind, params = media_type(entry)
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 1.0
        if kind and quality > 0:
            wanted.append((-quality, position, kind, params))
    for _, _, kind, params in sorted(wanted):
        if kind == "*/*":
            return offered[0]
        for candidate in offered:
            offered_kind, offered_params = media_type(candidate)
            if kind.endswith("/*") and offered_kind.startswith(kind[:-1]):
                return candidate
            if kind == offered_kind and params == offered_params:
                return candidate
    raise RequestError(406, f"Accept {accept!r} is not supported; this algorithm answers {', '.join(offered)}")


def decode_image(body: bytes, grayscale: bool = False) -> np.ndarray:
    """HxWx3 RGB (or HxWx1) uint8 through MXNet's decoder, the one its record iterator and
    `mx.image.imdecode` use for validation data."""
    try:
        return mx.image.imdecode(body, flag=0 if grayscale else 1, to_rgb=True).asnumpy()
    except mx.base.MXNetError:
        raise RequestError(400, f"The request body ({len(body)} bytes) could not be decoded as a JPEG or PNG "
                                f"image") from None


def json_body(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def saved_settings(schema: Schema, saved: dict[str, str], names: tuple[str, ...], source: str) -> dict:
    """The named hyperparameters of a model's hyperparams.json, parsed by the schema (the
    default where one is missing). Other keys are ignored: a model may come from the built-in."""
    values = {}
    for name in names:
        param = schema.by_name[name]
        if name in saved:
            values[name] = param.convert(str(saved[name]))
        elif not param.required:
            values[name] = param.default
        else:
            raise ClientError(f"{source} has no '{name}' in hyperparams.json; it is needed to serve the model")
    return values


def serving_context() -> mx.Context:
    try:
        gpus = mx.context.num_gpus()
    except mx.base.MXNetError:
        gpus = 0
    return mx.gpu(0) if gpus else mx.cpu()


# ---- RecordIO-protobuf ---------------------------------------------------------------------------

RECORDIO_MAGIC = 0xCED7230A


@lru_cache(maxsize=1)
def record_class():
    """The `aialgs.data.Record` message class, built from a descriptor with the SDK's field
    numbers and types, in a pool of its own (a client's record_pb2 may be loaded as well)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name="smlocal/aialgs_record.proto", package="aialgs.data",
                                               syntax="proto2")

    def tensor(name: str, value_type: int) -> None:
        message = proto.message_type.add(name=name)
        for number, (field_name, kind) in enumerate(
                [("values", value_type), ("keys", field.TYPE_UINT64), ("shape", field.TYPE_UINT64)], start=1):
            added = message.field.add(name=field_name, number=number, label=field.LABEL_REPEATED, type=kind)
            added.options.packed = True

    tensor("Float32Tensor", field.TYPE_FLOAT)
    tensor("Float64Tensor", field.TYPE_DOUBLE)
    tensor("Int32Tensor", field.TYPE_INT32)
    raw = proto.message_type.add(name="Bytes")
    raw.field.add(name="value", number=1, label=field.LABEL_REPEATED, type=field.TYPE_BYTES)
    raw.field.add(name="content_type", number=2, label=field.LABEL_OPTIONAL, type=field.TYPE_STRING)
    value = proto.message_type.add(name="Value")
    value.oneof_decl.add(name="value")
    for name, number, type_name in [("float32_tensor", 2, "Float32Tensor"), ("float64_tensor", 3, "Float64Tensor"),
                                    ("int32_tensor", 7, "Int32Tensor"), ("bytes", 9, "Bytes")]:
        value.field.add(name=name, number=number, label=field.LABEL_OPTIONAL, type=field.TYPE_MESSAGE,
                        type_name=f".aialgs.data.{type_name}", oneof_index=0)
    record = proto.message_type.add(name="Record")
    for name, number, entry in [("features", 1, "FeaturesEntry"), ("label", 2, "LabelEntry")]:
        # A proto map is a repeated nested key/value message marked map_entry.
        nested = record.nested_type.add(name=entry)
        nested.options.map_entry = True
        nested.field.add(name="key", number=1, label=field.LABEL_OPTIONAL, type=field.TYPE_STRING)
        nested.field.add(name="value", number=2, label=field.LABEL_OPTIONAL, type=field.TYPE_MESSAGE,
                         type_name=".aialgs.data.Value")
        record.field.add(name=name, number=number, label=field.LABEL_REPEATED, type=field.TYPE_MESSAGE,
                         type_name=f".aialgs.data.Record.{entry}")
    for name, number in [("uid", 3), ("metadata", 4), ("configuration", 5)]:
        record.field.add(name=name, number=number, label=field.LABEL_OPTIONAL, type=field.TYPE_STRING)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("aialgs.data.Record"))


def recordio_frame(payload: bytes) -> bytes:
    """One MXNet RecordIO record: magic, length (upper 3 bits 0: a whole record), payload
    padded to 4 bytes; the framing the SDK's record reader expects."""
    padding = b"\0" * (-len(payload) % 4)
    return struct.pack("<II", RECORDIO_MAGIC, len(payload)) + payload + padding


def dense_record(features: dict[str, np.ndarray]) -> bytes:
    """A RecordIO-wrapped Record whose features are dense tensors (float32 or int32 values)."""
    record = record_class()()
    for name, array in features.items():
        array = np.asarray(array)
        if array.dtype == np.float32:
            record.features[name].float32_tensor.values.extend(array.ravel().tolist())
        elif array.dtype == np.int32:
            record.features[name].int32_tensor.values.extend(array.ravel().tolist())
        else:
            raise TypeError(f"feature {name}: dtype {array.dtype} (float32 or int32 only)")
    return recordio_frame(record.SerializeToString())
