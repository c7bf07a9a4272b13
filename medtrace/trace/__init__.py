"""Trace: the read path over the ledger (DESIGN §7): unit timeline, backward and forward trace."""
