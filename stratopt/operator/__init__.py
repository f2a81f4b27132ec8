"""The Kubernetes operator: kopf handlers (thin), pure Job and status builders."""
