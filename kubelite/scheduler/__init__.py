"""The scheduler: assigns pending pods to nodes through the Kubernetes scheduling framework.

- ``interface``: Status/Code, CycleState, cluster events, plugin protocols, Handle
- ``nodeinfo``: Resource, PodInfo, NodeInfo, Snapshot, QueuedPodInfo
- ``framework``: Framework (runs a profile's plugins; the plugins' Handle), FitError
- ``config``: KubeSchedulerConfiguration (profiles, plugins, args); ``registry``: plugin table
- ``queue``: SchedulingQueue; ``cache``: Cache (nodes, assumed pods, snapshots)
- ``scheduler``: Scheduler (informers, scheduling and binding cycles, leader election)
"""
