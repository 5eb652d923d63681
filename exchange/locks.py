"""The exchange's lock namespaces (R45, R46); the locks are process-bound (schools.locks)."""

from schools.locks import ProcessLock, held

__all__ = ["PART_NAMESPACE", "RUN_NAMESPACE", "ProcessLock", "held"]  # the exchange's lock API

# Advisory lock namespace (the first of the two int4 keys) of the exchange.
RUN_NAMESPACE = 7_270_017
PART_NAMESPACE = 7_270_018
