"""The node's roles: delegator (`node delegate`), executor (`node serve`) and validator
(`node validate`).

Each role is a thin composition over the shared parts gathered by `services.open_services`: the
job store, the chain bridge and its clients, the p2p node and metrics.
"""
