"""bftx: a Byzantine-fault-tolerant exchange.

Validators agree with a PBFT-style protocol on one history of signed
transactions, execute it with a deterministic order book and ledger, and settle
every trade with finality. See ``docs/`` and the README for the map.
"""

__version__ = "0.1.0"
