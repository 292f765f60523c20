"""The proto's enums <-> the names the code uses, derived from the one list of each (no copies).

Modes (`veriframe.service.params.MODES`), roles (`veriframe.service.roles.ROLES`), review states and job
states (`veriframe.service.store.states`). Used by the SDK and by the server's converters alike, so both
sides of the wire map the same way. Light: pure Python and the generated stubs.
"""

from __future__ import annotations

from veriframe.service.api.gen import admin_pb2, common_pb2
from veriframe.service.params import MODES
from veriframe.service.roles import ROLES
from veriframe.service.store.states import API_STATE, REVIEW_STATES

MODE_PB: dict[str, int] = {m: common_pb2.Mode.Value(f"MODE_{m.upper()}") for m in MODES}
MODE_NAME: dict[int, str] = {v: k for k, v in MODE_PB.items()} | {common_pb2.MODE_UNSPECIFIED: ""}
ROLE_PB: dict[str, int] = {r: admin_pb2.Role.Value(f"ROLE_{r.upper()}") for r in ROLES}
ROLE_NAME: dict[int, str] = {v: k for k, v in ROLE_PB.items()}
REVIEW_STATE_PB: dict[str, int] = {
    s: admin_pb2.ReviewState.Value(f"REVIEW_STATE_{s.upper()}") for s in REVIEW_STATES
}
REVIEW_STATE_NAME: dict[int, str] = {v: k for k, v in REVIEW_STATE_PB.items()}
# Column value (e.g. "pending_review") -> JobState value (JOB_STATE_REVIEW), and back.
JOB_STATE_PB: dict[str, int] = {
    db: common_pb2.JobState.Value(f"JOB_STATE_{api}") for db, api in API_STATE.items()
}
JOB_STATE_DB: dict[int, str] = {v: k for k, v in JOB_STATE_PB.items()}
