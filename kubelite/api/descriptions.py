"""Short descriptions of API types and fields, in our own words.

``kubectl explain`` prints the ``description`` of each schema and property of
the OpenAPI documents (``kubelite.apiserver.openapi``). The generated models
carry no Go comments, so the texts live here: one sentence for every served
kind and for the fields people look up most. Keys are model class names
(``Container``, ``DeploymentSpec``); a field of a kind without its own entry falls
back to ``COMMON_FIELDS`` when its name is one of the conventional ones.
"""

from __future__ import annotations

TYPES: dict[str, str] = {
    # core/v1 kinds
    "Namespace": "A Namespace scopes the names of namespaced objects and groups them for access control and quota.",
    "Pod": "A Pod is a group of containers that are scheduled together onto one node and share its network and volumes.",
    "Node": "A Node is a machine that runs pods; its agent reports capacity and health here.",
    "Service": "A Service gives a stable virtual address and DNS name to the set of pods its selector picks.",
    "Endpoints": "Endpoints lists the addresses and ports that currently back a Service.",
    "ConfigMap": "A ConfigMap holds non-secret configuration as key/value pairs for pods to consume.",
    "Secret": "A Secret holds a small amount of sensitive data, such as passwords, tokens or keys.",
    "Event": "An Event records something that happened to an object, for people and tools to inspect.",
    "ReplicationController": "A ReplicationController keeps a fixed number of copies of a pod template running.",
    "ServiceAccount": "A ServiceAccount is an identity that processes in pods use to talk to the API.",
    "LimitRange": "A LimitRange sets default, minimum and maximum resource amounts per object in a namespace.",
    "ResourceQuota": "A ResourceQuota caps the total resources and object counts a namespace may use.",
    "PersistentVolume": "A PersistentVolume is a piece of storage made available to the cluster.",
    "PersistentVolumeClaim": "A PersistentVolumeClaim is a request for storage that binds to a matching PersistentVolume.",
    "PodTemplate": "A PodTemplate stores a pod template for other objects to copy.",
    "Binding": "A Binding assigns a pod to a node; the scheduler creates it.",
    "ComponentStatus": "ComponentStatus reports the health of a control plane component.",
    # apps/v1
    "Deployment": "A Deployment declares a desired pod template and replica count and rolls out changes through ReplicaSets.",
    "ReplicaSet": "A ReplicaSet keeps a given number of pods matching its selector running.",
    "StatefulSet": "A StatefulSet runs pods with stable names, network identities and storage, in order.",
    "DaemonSet": "A DaemonSet runs one copy of a pod on every eligible node.",
    "ControllerRevision": "A ControllerRevision keeps an immutable snapshot of a workload's state for rollbacks.",
    # batch/v1
    "Job": "A Job runs pods until a given number of them finish successfully.",
    "CronJob": "A CronJob creates Jobs on a repeating schedule.",
    # autoscaling
    "HorizontalPodAutoscaler": "A HorizontalPodAutoscaler adjusts the replica count of a workload from observed metrics.",
    "Scale": "Scale is the replica count of a scalable resource, read and written through its scale subresource.",
    # other groups
    "Lease": "A Lease is a lightweight lock used for leader election and node heartbeats.",
    "CertificateSigningRequest": "A CertificateSigningRequest asks a signer for an X.509 certificate; it is "
    "approved or denied, then the signer issues the certificate into its status.",
    "CertificateSigningRequestSpec": "The request (a PEM PKCS#10 CSR), the signer asked, the usages and "
    "duration wanted, and who asked (set by the API server).",
    "CertificateSigningRequestStatus": "Whether the request was approved, denied or failed, and the issued "
    "certificate.",
    "EndpointSlice": "An EndpointSlice holds a subset of the network endpoints that back a Service.",
    "Ingress": "An Ingress routes external HTTP(S) traffic to Services by host and path.",
    "IngressClass": "An IngressClass names the controller that implements a set of Ingresses.",
    "NetworkPolicy": "A NetworkPolicy states which traffic may reach or leave the pods it selects.",
    "StorageClass": "A StorageClass describes a kind of storage and how volumes of it are provisioned.",
    "PriorityClass": "A PriorityClass maps a name to a scheduling priority for pods.",
    "PodDisruptionBudget": "A PodDisruptionBudget limits how many pods of a set may be voluntarily disrupted at once.",
    "Eviction": "An Eviction asks to remove a pod from its node while honouring disruption budgets.",
    "Role": "A Role grants permissions on resources within one namespace.",
    "ClusterRole": "A ClusterRole grants permissions cluster-wide or for use in any namespace.",
    "RoleBinding": "A RoleBinding grants the permissions of a role to subjects within one namespace.",
    "ClusterRoleBinding": "A ClusterRoleBinding grants the permissions of a ClusterRole to subjects in the whole cluster.",
    # authorization.k8s.io/v1, authentication.k8s.io/v1: create-only reviews, never stored
    "SelfSubjectAccessReview": "A SelfSubjectAccessReview asks whether the requesting user may perform an action.",
    "SubjectAccessReview": "A SubjectAccessReview asks whether a given user or group may perform an action.",
    "LocalSubjectAccessReview": "A LocalSubjectAccessReview asks whether a given user or group may perform an action in one namespace.",
    "SelfSubjectRulesReview": "A SelfSubjectRulesReview lists the actions the requesting user may perform in a namespace.",
    "SelfSubjectReview": "A SelfSubjectReview reports the user, groups and extra attributes the server sees for the request.",
    "TokenReview": "A TokenReview asks the server's authenticator which user a bearer token names.",
    "TokenRequest": "A TokenRequest asks for a token that authenticates as a service account.",
    # meta/v1 and building blocks
    "ObjectMeta": "Metadata that every persisted object has: name, namespace, labels, annotations and bookkeeping.",
    "ListMeta": "Metadata of a list: its resource version and the token to fetch the next page.",
    "LabelSelector": "A label query; an empty selector matches every object.",
    "OwnerReference": "Identifies an object that owns this one, for garbage collection.",
    "Status": "Status is the result of an operation that does not return an object, such as an error.",
    "DeleteOptions": "Options for a delete: grace period, preconditions and how dependents are handled.",
    "WatchEvent": "One change seen by a watch: its type and the object after the change.",
    "Patch": "A patch document, in the format named by the request's Content-Type.",
    "Time": "A point in time, written as an RFC 3339 string in UTC.",
    "MicroTime": "A point in time with microsecond precision, written as an RFC 3339 string.",
    "Quantity": "An amount with an optional suffix, such as 100m, 2 or 1Gi.",
    "IntOrString": "A value that may be written either as an integer or as a string.",
    "PodSpec": "The desired state of a pod: its containers, volumes and scheduling constraints.",
    "PodStatus": "The most recently observed state of a pod.",
    "PodTemplateSpec": "A template for the pods a workload creates.",
    "Container": "One container in a pod: the image to run and how to run it.",
    "ContainerPort": "A network port that a container listens on.",
    "EnvVar": "An environment variable set in a container.",
    "ResourceRequirements": "The compute resources a container requests and the limits it may not exceed.",
    "VolumeMount": "Where a volume of the pod appears inside a container.",
    "Volume": "A named volume that containers of the pod may mount.",
    "Probe": "A check the kubelet runs against a container to decide whether it is alive, ready or started.",
    "DeploymentSpec": "The desired state of a Deployment.",
    "DeploymentStatus": "The most recently observed state of a Deployment.",
    "DeploymentStrategy": "How a Deployment replaces old pods with new ones.",
    "RollingUpdateDeployment": "Limits that pace a rolling update.",
    "ServiceSpec": "The desired behaviour of a Service.",
    "ServiceStatus": "The most recently observed state of a Service, such as its load balancer.",
    "ServicePort": "One port that a Service exposes and where it sends the traffic.",
}

COMMON_FIELDS: dict[str, str] = {
    "apiVersion": "The versioned schema of this object, such as v1 or apps/v1.",
    "kind": "The type of this object, such as Pod or Deployment.",
    "metadata": "Standard metadata: name, namespace, labels, annotations and bookkeeping fields.",
    "spec": "The desired state, written by the user.",
    "status": "The observed state, written by the system; read-only for most clients.",
    "items": "The objects in this list.",
}

FIELDS: dict[str, dict[str, str]] = {
    "ObjectMeta": {
        "name": "The object's name, unique within its namespace and kind.",
        "generateName": "A prefix from which the server makes a unique name when name is empty.",
        "namespace": "The namespace the object lives in; empty for cluster-scoped kinds.",
        "uid": "A unique identifier the server assigns when the object is created.",
        "resourceVersion": "An opaque version of the object, used for optimistic concurrency and watches.",
        "generation": "A number the server increments whenever the desired state changes.",
        "creationTimestamp": "When the server created the object.",
        "deletionTimestamp": "When deletion of the object was requested; set by the server.",
        "deletionGracePeriodSeconds": "Seconds the object is allowed to terminate gracefully before it is removed.",
        "labels": "Key/value pairs used to organise and select objects.",
        "annotations": "Key/value pairs for tools and extensions; not used for selection.",
        "ownerReferences": "Objects this one depends on; when all owners are gone it is garbage collected.",
        "finalizers": "Keys that must be removed before the object is finally deleted.",
        "managedFields": "Which field manager owns which fields, for server-side apply.",
    },
    "PodSpec": {
        "containers": "The containers of the pod; at least one is required.",
        "initContainers": "Containers that run one after another to completion before the main containers start.",
        "ephemeralContainers": "Containers added to a running pod for debugging.",
        "volumes": "Volumes that containers of the pod can mount.",
        "restartPolicy": "When containers are restarted: Always, OnFailure or Never.",
        "terminationGracePeriodSeconds": "Seconds the pod is given to stop before it is killed.",
        "activeDeadlineSeconds": "Seconds the pod may run before the system stops it.",
        "dnsPolicy": "How the pod's DNS is configured, such as ClusterFirst or Default.",
        "nodeSelector": "Labels a node must have for the pod to be scheduled there.",
        "serviceAccountName": "The service account the pod runs as.",
        "nodeName": "The node the pod is bound to; set by the scheduler unless given.",
        "hostNetwork": "Whether the pod uses the node's network namespace.",
        "hostPID": "Whether the pod uses the node's process namespace.",
        "hostIPC": "Whether the pod uses the node's IPC namespace.",
        "securityContext": "Security settings that apply to all containers of the pod.",
        "imagePullSecrets": "Secrets used to pull the pod's images from private registries.",
        "hostname": "The pod's hostname; defaults to the pod's name.",
        "subdomain": "A subdomain that, with a headless Service, gives the pod a DNS name.",
        "affinity": "Rules that attract the pod to, or repel it from, nodes and other pods.",
        "schedulerName": "The scheduler that places this pod.",
        "tolerations": "Taints the pod tolerates.",
        "priorityClassName": "The PriorityClass that sets the pod's priority.",
        "priority": "The pod's scheduling priority, resolved from its PriorityClass.",
        "topologySpreadConstraints": "How the pod's replicas are spread across zones, nodes or other domains.",
    },
    "PodStatus": {
        "phase": "A coarse summary of the pod's lifecycle: Pending, Running, Succeeded, Failed or Unknown.",
        "conditions": "Conditions of the pod, such as PodScheduled and Ready.",
        "message": "A human-readable note on why the pod is in its state.",
        "reason": "A short machine-readable reason for the pod's state.",
        "hostIP": "The address of the node the pod runs on.",
        "podIP": "The pod's primary IP address.",
        "podIPs": "All IP addresses of the pod.",
        "startTime": "When the kubelet accepted the pod.",
        "containerStatuses": "The state of each container.",
        "initContainerStatuses": "The state of each init container.",
        "qosClass": "The quality-of-service class derived from the containers' requests and limits.",
    },
    "Container": {
        "name": "The container's name, unique within the pod.",
        "image": "The container image to run.",
        "command": "The entrypoint; replaces the image's ENTRYPOINT when set.",
        "args": "Arguments to the entrypoint; replace the image's CMD when set.",
        "workingDir": "The working directory; defaults to the image's.",
        "ports": "Ports the container exposes; informational, but named ports can be referred to.",
        "env": "Environment variables to set in the container.",
        "envFrom": "Sources (ConfigMaps, Secrets) whose keys become environment variables.",
        "resources": "Compute resources the container requests and may not exceed.",
        "volumeMounts": "Volumes of the pod to mount into the container.",
        "livenessProbe": "A check that restarts the container when it fails.",
        "readinessProbe": "A check that removes the pod from Service endpoints while it fails.",
        "startupProbe": "A check that holds off the other probes until the container has started.",
        "lifecycle": "Actions to run right after the container starts and before it stops.",
        "imagePullPolicy": "When to pull the image: Always, IfNotPresent or Never.",
        "securityContext": "Security settings for this container.",
        "stdin": "Whether the container keeps a stdin stream open.",
        "tty": "Whether the container gets a terminal.",
        "terminationMessagePath": "The file whose contents become the container's termination message.",
        "terminationMessagePolicy": "Where the termination message comes from: File or FallbackToLogsOnError.",
        "restartPolicy": "A per-container restart policy, used to make init containers run alongside the pod.",
    },
    "ContainerPort": {
        "containerPort": "The port number on the pod's IP address.",
        "protocol": "The protocol: TCP, UDP or SCTP; defaults to TCP.",
        "name": "A name for the port that Services can refer to.",
        "hostPort": "A port on the node forwarded to this container port.",
        "hostIP": "The node address to bind the host port to.",
    },
    "ResourceRequirements": {
        "limits": "The most of each resource the container may use.",
        "requests": "The amount of each resource the scheduler reserves for the container.",
        "claims": "Names of the pod's resource claims this container uses.",
    },
    "DeploymentSpec": {
        "replicas": "How many pods to run; defaults to 1.",
        "selector": "Selects the pods this Deployment manages; must match the template's labels.",
        "template": "The pods to create.",
        "strategy": "How to replace old pods with new ones.",
        "minReadySeconds": "Seconds a new pod must be ready before it counts as available.",
        "revisionHistoryLimit": "How many old ReplicaSets to keep for rollbacks.",
        "paused": "Whether rollouts of template changes are paused.",
        "progressDeadlineSeconds": "Seconds a rollout may make no progress before it is reported as failed.",
    },
    "DeploymentStatus": {
        "observedGeneration": "The generation the controller has acted on.",
        "replicas": "Pods targeted by this Deployment.",
        "updatedReplicas": "Pods that run the current template.",
        "readyReplicas": "Pods that are ready.",
        "availableReplicas": "Pods that have been ready for at least minReadySeconds.",
        "unavailableReplicas": "Pods still needed to reach the desired count of available pods.",
        "conditions": "Conditions of the rollout, such as Available and Progressing.",
        "collisionCount": "A counter used to avoid name collisions of ReplicaSets.",
    },
    "DeploymentStrategy": {
        "type": "Recreate (stop all old pods first) or RollingUpdate (the default).",
        "rollingUpdate": "Pace of a rolling update; only with type RollingUpdate.",
    },
    "RollingUpdateDeployment": {
        "maxUnavailable": "How many pods (or what percentage) may be unavailable during the update.",
        "maxSurge": "How many pods (or what percentage) may exist above the desired count during the update.",
    },
    "ServiceSpec": {
        "type": "How the Service is exposed: ClusterIP, NodePort, LoadBalancer or ExternalName.",
        "selector": "Labels of the pods that receive the traffic.",
        "ports": "The ports the Service exposes.",
        "clusterIP": "The virtual IP address of the Service; None makes it headless.",
        "clusterIPs": "The virtual IP addresses of the Service, one per IP family.",
        "externalIPs": "Extra addresses on which nodes accept traffic for this Service.",
        "sessionAffinity": "ClientIP keeps a client on the same pod; None spreads requests.",
        "externalName": "The DNS name an ExternalName Service aliases.",
        "externalTrafficPolicy": "Whether external traffic goes only to local endpoints (Local) or to all (Cluster).",
        "internalTrafficPolicy": "Whether in-cluster traffic goes only to local endpoints (Local) or to all (Cluster).",
        "ipFamilies": "The IP families (IPv4, IPv6) of the Service.",
        "ipFamilyPolicy": "Whether the Service is single-stack or dual-stack.",
        "loadBalancerIP": "A requested address for a LoadBalancer Service; deprecated.",
    },
    "ServicePort": {
        "name": "A name for the port, required when there are several.",
        "protocol": "The protocol: TCP, UDP or SCTP; defaults to TCP.",
        "port": "The port the Service listens on.",
        "targetPort": "The pod port (number or name) that receives the traffic; defaults to port.",
        "nodePort": "The port on every node for NodePort and LoadBalancer Services.",
        "appProtocol": "The application protocol, as a hint for proxies and tools.",
    },
    "ConfigMap": {
        "data": "UTF-8 configuration values by key.",
        "binaryData": "Binary configuration values by key, base64-encoded.",
        "immutable": "When true, the data can no longer be changed.",
    },
    "Secret": {
        "data": "Secret values by key, base64-encoded.",
        "stringData": "Secret values as plain strings; merged into data on write and never read back.",
        "type": "The kind of secret, such as Opaque or kubernetes.io/tls, which decides the required keys.",
        "immutable": "When true, the data can no longer be changed.",
    },
}


def type_description(name: str) -> str | None:
    """Our description of the type (model class or special type) called ``name``."""
    if name in TYPES:
        return TYPES[name]
    if name.endswith("List") and name[:-4] in TYPES:
        return f"A list of {name[:-4]} objects."
    return None


def field_description(type_name: str, field: str, *, kind: bool = False) -> str | None:
    """Our description of ``field`` of the type called ``type_name``, if we have one.

    ``kind`` says that the type is a served kind or a list of one, whose
    conventional fields (apiVersion, kind, metadata, spec, status, items)
    get the common descriptions.
    """
    own = FIELDS.get(type_name, {}).get(field)
    if own is not None:
        return own
    return COMMON_FIELDS.get(field) if kind else None
