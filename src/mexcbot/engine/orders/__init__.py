"""Orders in the engine: placing (`placement`), merging exchange reports (`sync`, the one
idempotent path), reconciling with the exchange (`reconciliation`) and the service callers use
(`service.ExecutionService`)."""
