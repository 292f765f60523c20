"""The job store: operations on the database's jobs and policies (see docs/architecture.md).

`states` (the job state machine's names), `jobs` (the durable queue: claims, leases, the one
transition function that writes a state change and its ledger event together, recovery) and
`policies` (the one policy repository and its digest). The schema itself is `veriframe.service.db`.
"""
