"""The request flow: Submit and execute, and the requester's and moderators' other steps.

`workflow` reads the whole walk top to bottom; each step lives in a sibling module that knows nothing
of gRPC and returns typed results (`types`). The rooms and the walk: docs/architecture.md.
"""
