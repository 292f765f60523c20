"""The ledger's one error type, in a module of its own: every role raises it without importing another."""


class LedgerError(RuntimeError):
    """The ledger cannot do what was asked (no schema, no signing key, a size it does not have...)."""


NO_HEAD = "the ledger has no head row: run `veriframe db upgrade` on this database"
