import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_SCREENING: _ClassVar[JobState]
    JOB_STATE_REVIEW: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_FINALIZING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_REJECTED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]

class Mode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODE_UNSPECIFIED: _ClassVar[Mode]
    MODE_T2V: _ClassVar[Mode]
    MODE_I2V: _ClassVar[Mode]
    MODE_V2V: _ClassVar[Mode]
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_SCREENING: JobState
JOB_STATE_REVIEW: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_FINALIZING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_REJECTED: JobState
JOB_STATE_CANCELLED: JobState
MODE_UNSPECIFIED: Mode
MODE_T2V: Mode
MODE_I2V: Mode
MODE_V2V: Mode

class GenerationParams(_message.Message):
    __slots__ = ("prompt", "negative_prompt", "mode", "image", "video", "strength", "seed", "num_inference_steps", "guidance_scale", "num_frames", "fps", "width", "height")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_PROMPT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    VIDEO_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    NUM_INFERENCE_STEPS_FIELD_NUMBER: _ClassVar[int]
    GUIDANCE_SCALE_FIELD_NUMBER: _ClassVar[int]
    NUM_FRAMES_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    negative_prompt: str
    mode: Mode
    image: bytes
    video: bytes
    strength: float
    seed: int
    num_inference_steps: int
    guidance_scale: float
    num_frames: int
    fps: int
    width: int
    height: int
    def __init__(self, prompt: _Optional[str] = ..., negative_prompt: _Optional[str] = ..., mode: _Optional[_Union[Mode, str]] = ..., image: _Optional[bytes] = ..., video: _Optional[bytes] = ..., strength: _Optional[float] = ..., seed: _Optional[int] = ..., num_inference_steps: _Optional[int] = ..., guidance_scale: _Optional[float] = ..., num_frames: _Optional[int] = ..., fps: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("step", "total_steps")
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    step: int
    total_steps: int
    def __init__(self, step: _Optional[int] = ..., total_steps: _Optional[int] = ...) -> None: ...

class JobError(_message.Message):
    __slots__ = ("code", "message", "categories")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    categories: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., categories: _Optional[_Iterable[str]] = ...) -> None: ...

class JobOutput(_message.Message):
    __slots__ = ("video_sha256", "manifest_sha256", "video_size", "frame_count", "has_frames", "model_name", "model_version", "seed", "audit_seq")
    VIDEO_SHA256_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_SHA256_FIELD_NUMBER: _ClassVar[int]
    VIDEO_SIZE_FIELD_NUMBER: _ClassVar[int]
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    HAS_FRAMES_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    AUDIT_SEQ_FIELD_NUMBER: _ClassVar[int]
    video_sha256: str
    manifest_sha256: str
    video_size: int
    frame_count: int
    has_frames: bool
    model_name: str
    model_version: str
    seed: int
    audit_seq: int
    def __init__(self, video_sha256: _Optional[str] = ..., manifest_sha256: _Optional[str] = ..., video_size: _Optional[int] = ..., frame_count: _Optional[int] = ..., has_frames: _Optional[bool] = ..., model_name: _Optional[str] = ..., model_version: _Optional[str] = ..., seed: _Optional[int] = ..., audit_seq: _Optional[int] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "tenant", "state", "mode", "progress", "params", "prompt_sha256", "provenance_id", "error", "output", "review_id", "idempotency_key", "return_frames", "attempts", "created_at", "updated_at", "prompt_commitment", "prompt_key_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_SHA256_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    RETURN_FRAMES_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    PROMPT_COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    PROMPT_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant: str
    state: JobState
    mode: Mode
    progress: Progress
    params: _struct_pb2.Struct
    prompt_sha256: str
    provenance_id: str
    error: JobError
    output: JobOutput
    review_id: str
    idempotency_key: str
    return_frames: bool
    attempts: int
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    prompt_commitment: str
    prompt_key_id: str
    def __init__(self, id: _Optional[str] = ..., tenant: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., mode: _Optional[_Union[Mode, str]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., prompt_sha256: _Optional[str] = ..., provenance_id: _Optional[str] = ..., error: _Optional[_Union[JobError, _Mapping]] = ..., output: _Optional[_Union[JobOutput, _Mapping]] = ..., review_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., return_frames: _Optional[bool] = ..., attempts: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., prompt_commitment: _Optional[str] = ..., prompt_key_id: _Optional[str] = ...) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ("seq", "event_type", "actor", "tenant", "job_id", "payload", "leaf_hash", "created_at", "leaf_data")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LEAF_DATA_FIELD_NUMBER: _ClassVar[int]
    seq: int
    event_type: str
    actor: str
    tenant: str
    job_id: str
    payload: _struct_pb2.Struct
    leaf_hash: str
    created_at: _timestamp_pb2.Timestamp
    leaf_data: str
    def __init__(self, seq: _Optional[int] = ..., event_type: _Optional[str] = ..., actor: _Optional[str] = ..., tenant: _Optional[str] = ..., job_id: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., leaf_hash: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., leaf_data: _Optional[str] = ...) -> None: ...

class Checkpoint(_message.Message):
    __slots__ = ("tree_size", "root_hash", "created_at", "signature", "signed_data", "key_id", "public_key_pem", "note")
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SIGNED_DATA_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    tree_size: int
    root_hash: str
    created_at: _timestamp_pb2.Timestamp
    signature: bytes
    signed_data: bytes
    key_id: str
    public_key_pem: str
    note: str
    def __init__(self, tree_size: _Optional[int] = ..., root_hash: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signature: _Optional[bytes] = ..., signed_data: _Optional[bytes] = ..., key_id: _Optional[str] = ..., public_key_pem: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class ConsistencyProof(_message.Message):
    __slots__ = ("first_size", "second_size", "first_root", "second_root", "path")
    FIRST_SIZE_FIELD_NUMBER: _ClassVar[int]
    SECOND_SIZE_FIELD_NUMBER: _ClassVar[int]
    FIRST_ROOT_FIELD_NUMBER: _ClassVar[int]
    SECOND_ROOT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    first_size: int
    second_size: int
    first_root: str
    second_root: str
    path: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, first_size: _Optional[int] = ..., second_size: _Optional[int] = ..., first_root: _Optional[str] = ..., second_root: _Optional[str] = ..., path: _Optional[_Iterable[str]] = ...) -> None: ...

class InclusionProof(_message.Message):
    __slots__ = ("seq", "leaf_index", "tree_size", "leaf_hash", "audit_path", "root_hash", "verified", "checkpoint")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    LEAF_INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    AUDIT_PATH_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: _containers.RepeatedScalarFieldContainer[str]
    root_hash: str
    verified: bool
    checkpoint: Checkpoint
    def __init__(self, seq: _Optional[int] = ..., leaf_index: _Optional[int] = ..., tree_size: _Optional[int] = ..., leaf_hash: _Optional[str] = ..., audit_path: _Optional[_Iterable[str]] = ..., root_hash: _Optional[str] = ..., verified: _Optional[bool] = ..., checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ...) -> None: ...
