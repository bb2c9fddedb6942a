"""``bftx chaos``: faults on a live local testnet, then checks of every node through its API.

Owns the fault tool of issue 8: `run.run_chaos` starts a testnet
(`cluster`), drives load through the public API (`load`), injects faults
one at a time (`faults`, with `netns` for partitions), reads every node
(`collect`) and checks what it read (`checks`: pure functions).

Must never: reach into a node's internals (everything it knows comes from
REST answers and the testnet's own files), or leave a process, a paused node
or a network namespace behind.
"""
