from google.protobuf import struct_pb2 as _struct_pb2
from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VerifyRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: VerifyHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[VerifyHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class VerifyHeader(_message.Message):
    __slots__ = ("filename", "content_type", "total_size", "prompt")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    filename: str
    content_type: str
    total_size: int
    prompt: str
    def __init__(self, filename: _Optional[str] = ..., content_type: _Optional[str] = ..., total_size: _Optional[int] = ..., prompt: _Optional[str] = ...) -> None: ...

class WatermarkResult(_message.Message):
    __slots__ = ("found", "id", "confidence")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    found: bool
    id: str
    confidence: float
    def __init__(self, found: _Optional[bool] = ..., id: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class C2paResult(_message.Message):
    __slots__ = ("present", "valid", "trusted", "errors", "provenance_id", "manifest_sha256")
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    VALID_FIELD_NUMBER: _ClassVar[int]
    TRUSTED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_ID_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_SHA256_FIELD_NUMBER: _ClassVar[int]
    present: bool
    valid: bool
    trusted: bool
    errors: _containers.RepeatedScalarFieldContainer[str]
    provenance_id: str
    manifest_sha256: str
    def __init__(self, present: _Optional[bool] = ..., valid: _Optional[bool] = ..., trusted: _Optional[bool] = ..., errors: _Optional[_Iterable[str]] = ..., provenance_id: _Optional[str] = ..., manifest_sha256: _Optional[str] = ...) -> None: ...

class AuditLookup(_message.Message):
    __slots__ = ("found", "job_id", "tenant", "event", "proof", "manifest_matches", "video_matches")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_MATCHES_FIELD_NUMBER: _ClassVar[int]
    VIDEO_MATCHES_FIELD_NUMBER: _ClassVar[int]
    found: bool
    job_id: str
    tenant: str
    event: _common_pb2.AuditEvent
    proof: _common_pb2.InclusionProof
    manifest_matches: bool
    video_matches: bool
    def __init__(self, found: _Optional[bool] = ..., job_id: _Optional[str] = ..., tenant: _Optional[str] = ..., event: _Optional[_Union[_common_pb2.AuditEvent, _Mapping]] = ..., proof: _Optional[_Union[_common_pb2.InclusionProof, _Mapping]] = ..., manifest_matches: _Optional[bool] = ..., video_matches: _Optional[bool] = ...) -> None: ...

class VerifyResponse(_message.Message):
    __slots__ = ("verdict", "verified", "watermark", "c2pa", "consistent", "audit", "report", "sha256", "prompt_check", "prompt_check_reason")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    C2PA_FIELD_NUMBER: _ClassVar[int]
    CONSISTENT_FIELD_NUMBER: _ClassVar[int]
    AUDIT_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    PROMPT_CHECK_FIELD_NUMBER: _ClassVar[int]
    PROMPT_CHECK_REASON_FIELD_NUMBER: _ClassVar[int]
    verdict: str
    verified: bool
    watermark: WatermarkResult
    c2pa: C2paResult
    consistent: bool
    audit: AuditLookup
    report: _struct_pb2.Struct
    sha256: str
    prompt_check: str
    prompt_check_reason: str
    def __init__(self, verdict: _Optional[str] = ..., verified: _Optional[bool] = ..., watermark: _Optional[_Union[WatermarkResult, _Mapping]] = ..., c2pa: _Optional[_Union[C2paResult, _Mapping]] = ..., consistent: _Optional[bool] = ..., audit: _Optional[_Union[AuditLookup, _Mapping]] = ..., report: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., sha256: _Optional[str] = ..., prompt_check: _Optional[str] = ..., prompt_check_reason: _Optional[str] = ...) -> None: ...
