"""The cross-chain relayer: an untrusted process between two bftx networks (docs/interchain.md).

Owns: reading its configuration (`config`), the relay loop (`relay`): keeping
both light clients fresh, relaying packets, acks and timeouts with their
proofs, and the process around it (`main`): signals, progress lines, the
Prometheus endpoint. It reaches the chains only through the SDK
(`bftx.client.AsyncClient`), like any other user.

Must never: keep state that a restart would need (the chains hold it all), or
treat a refusal as anything but the chain's final word on that submission.
"""

from bftx.relayer.config import ChainEndpoint, RelayerConfig, load_config, parse_config
from bftx.relayer.relay import Relayer

__all__ = ["ChainEndpoint", "Relayer", "RelayerConfig", "load_config", "parse_config"]
