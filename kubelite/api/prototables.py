"""The wire facts of the protobuf codec (protobuf.py) that the models do not carry.

- ``SPECIAL``: per model class, the fields whose Go type has its own wire
  message while the model holds its JSON form, by kind: ``quantity``,
  ``intstr``, ``time``, ``microtime``, ``duration``, ``raw``, ``fieldsv1``,
  ``strings``.
- ``INLINE``: per model class, the groups of fields Go embeds inline (a nested
  message at the given field number on the wire, flattened in JSON).

Data only, kept apart so the codec reads as code.
"""

from __future__ import annotations

# Derived once from Kubernetes' generated.proto files (k8s.io/api 10b39a39bcee,
# apimachinery eed236ceee2c) by comparing each message with our model class of
# the same name. Keys are "<module>.<Class>" under kubelite.api.

SPECIAL: dict[str, dict[str, str]] = {
    "apps_v1.ControllerRevision": {"data": "raw"},
    "apps_v1.DaemonSetCondition": {"lastTransitionTime": "time"},
    "apps_v1.DeploymentCondition": {"lastTransitionTime": "time", "lastUpdateTime": "time"},
    "apps_v1.ReplicaSetCondition": {"lastTransitionTime": "time"},
    "apps_v1.RollingUpdateDaemonSet": {"maxSurge": "intstr", "maxUnavailable": "intstr"},
    "apps_v1.RollingUpdateDeployment": {"maxSurge": "intstr", "maxUnavailable": "intstr"},
    "apps_v1.RollingUpdateStatefulSetStrategy": {"maxUnavailable": "intstr"},
    "apps_v1.StatefulSetCondition": {"lastTransitionTime": "time"},
    "authentication_v1.TokenRequestSpec": {"attestations": "strings"},
    "authentication_v1.TokenRequestStatus": {"expirationTimestamp": "time"},
    "authentication_v1.UserInfo": {"extra": "strings"},
    "authorization_v1.SubjectAccessReviewSpec": {"extra": "strings"},
    "autoscaling_v1.HorizontalPodAutoscalerStatus": {"lastScaleTime": "time"},
    "autoscaling_v2.HPAScalingRules": {"tolerance": "quantity"},
    "autoscaling_v2.HorizontalPodAutoscalerCondition": {"lastTransitionTime": "time"},
    "autoscaling_v2.HorizontalPodAutoscalerStatus": {"lastScaleTime": "time"},
    "autoscaling_v2.MetricTarget": {"averageValue": "quantity", "value": "quantity"},
    "autoscaling_v2.MetricValueStatus": {"averageValue": "quantity", "value": "quantity"},
    "batch_v1.CronJobStatus": {"lastScheduleTime": "time", "lastSuccessfulTime": "time"},
    "batch_v1.JobCondition": {"lastProbeTime": "time", "lastTransitionTime": "time"},
    "batch_v1.JobStatus": {"completionTime": "time", "startTime": "time"},
    "certificates_v1.CertificateSigningRequestCondition": {
        "lastTransitionTime": "time",
        "lastUpdateTime": "time",
    },
    "certificates_v1.CertificateSigningRequestSpec": {"extra": "strings"},
    "coordination_v1.LeaseSpec": {"acquireTime": "microtime", "renewTime": "microtime"},
    "core_v1.ContainerStateRunning": {"startedAt": "time"},
    "core_v1.ContainerStateTerminated": {"finishedAt": "time", "startedAt": "time"},
    "core_v1.ContainerStatus": {"allocatedResources": "quantity"},
    "core_v1.EmptyDirVolumeSource": {"sizeLimit": "quantity"},
    "core_v1.Event": {"eventTime": "microtime", "firstTimestamp": "time", "lastTimestamp": "time"},
    "core_v1.EventSeries": {"lastObservedTime": "microtime"},
    "core_v1.HTTPGetAction": {"port": "intstr"},
    "core_v1.LimitRangeItem": {
        "default": "quantity",
        "defaultRequest": "quantity",
        "max": "quantity",
        "maxLimitRequestRatio": "quantity",
        "min": "quantity",
    },
    "core_v1.NamespaceCondition": {"lastTransitionTime": "time"},
    "core_v1.NodeAllocatableMappedResources": {"quantity": "quantity"},
    "core_v1.NodeAllocatableOverheadResources": {"perContainer": "quantity", "perPod": "quantity"},
    "core_v1.NodeCondition": {"lastHeartbeatTime": "time", "lastTransitionTime": "time"},
    "core_v1.NodeStatus": {"allocatable": "quantity", "capacity": "quantity"},
    "core_v1.PersistentVolumeClaimCondition": {"lastProbeTime": "time", "lastTransitionTime": "time"},
    "core_v1.PersistentVolumeClaimStatus": {"allocatedResources": "quantity", "capacity": "quantity"},
    "core_v1.PersistentVolumeSpec": {"capacity": "quantity"},
    "core_v1.PersistentVolumeStatus": {"lastPhaseTransitionTime": "time"},
    "core_v1.PodCondition": {"lastProbeTime": "time", "lastTransitionTime": "time"},
    "core_v1.PodLogOptions": {"sinceTime": "time"},
    "core_v1.PodSpec": {"overhead": "quantity"},
    "core_v1.PodStatus": {"allocatedResources": "quantity", "startTime": "time"},
    "core_v1.PodVolumeHealth": {"lastTransitionTime": "time"},
    "core_v1.ReplicationControllerCondition": {"lastTransitionTime": "time"},
    "core_v1.ResourceFieldSelector": {"divisor": "quantity"},
    "core_v1.ResourceQuotaSpec": {"hard": "quantity"},
    "core_v1.ResourceQuotaStatus": {"hard": "quantity", "used": "quantity"},
    "core_v1.ResourceRequirements": {"limits": "quantity", "requests": "quantity"},
    "core_v1.ServicePort": {"targetPort": "intstr"},
    "core_v1.TCPSocketAction": {"port": "intstr"},
    "core_v1.Taint": {"timeAdded": "time"},
    "core_v1.VolumeHealthStatus": {"lastTransitionTime": "time"},
    "core_v1.VolumeResourceRequirements": {"limits": "quantity", "requests": "quantity"},
    "events_v1.Event": {
        "deprecatedFirstTimestamp": "time",
        "deprecatedLastTimestamp": "time",
        "eventTime": "microtime",
    },
    "events_v1.EventSeries": {"lastObservedTime": "microtime"},
    "meta.APIResource": {"verbs": "strings"},
    "meta.Condition": {"lastTransitionTime": "time"},
    "meta.List": {"items": "raw"},
    "meta.ManagedFieldsEntry": {"fieldsV1": "fieldsv1", "time": "time"},
    "meta.ObjectMeta": {"creationTimestamp": "time", "deletionTimestamp": "time"},
    "meta.WatchEvent": {"object": "raw"},
    "networking_v1.NetworkPolicyPort": {"port": "intstr"},
    "policy_v1.PodDisruptionBudgetSpec": {"maxUnavailable": "intstr", "minAvailable": "intstr"},
    "policy_v1.PodDisruptionBudgetStatus": {"disruptedPods": "time"},
    "storage_v1.CSIStorageCapacity": {"capacity": "quantity", "maximumVolumeSize": "quantity"},
    "storage_v1.StorageHealthCondition": {"lastTransitionTime": "time"},
    "storage_v1.VolumeError": {"time": "time"},
}
INLINE: dict[str, tuple[tuple[int, str], ...]] = {
    "core_v1.ConfigMapEnvSource": ((1, "name"),),
    "core_v1.ConfigMapKeySelector": ((1, "name"),),
    "core_v1.ConfigMapProjection": ((1, "name"),),
    "core_v1.ConfigMapVolumeSource": ((1, "name"),),
    "core_v1.EphemeralContainer": (
        (
            1,
            "args command env envFrom image imagePullPolicy lifecycle livenessProbe name ports "
            "readinessProbe resizePolicy resources restartPolicy restartPolicyRules securityContext "
            "startupProbe stdin stdinOnce terminationMessagePath terminationMessagePolicy tty "
            "volumeDevices volumeMounts workingDir",
        ),
    ),
    "core_v1.PersistentVolumeSpec": (
        (
            2,
            "awsElasticBlockStore azureDisk azureFile cephfs cinder csi fc flexVolume flocker "
            "gcePersistentDisk glusterfs hostPath iscsi local nfs photonPersistentDisk portworxVolume "
            "quobyte rbd scaleIO storageos vsphereVolume",
        ),
    ),
    "core_v1.Probe": ((1, "exec grpc httpGet tcpSocket"),),
    "core_v1.SecretEnvSource": ((1, "name"),),
    "core_v1.SecretKeySelector": ((1, "name"),),
    "core_v1.SecretProjection": ((1, "name"),),
    "core_v1.Volume": (
        (
            2,
            "awsElasticBlockStore azureDisk azureFile cephfs cinder configMap csi downwardAPI emptyDir "
            "ephemeral fc flexVolume flocker gcePersistentDisk gitRepo glusterfs hostPath image iscsi "
            "nfs persistentVolumeClaim photonPersistentDisk portworxVolume projected quobyte rbd "
            "scaleIO secret storageos vsphereVolume",
        ),
    ),
    "networking_v1.IngressRule": ((2, "http"),),
}
