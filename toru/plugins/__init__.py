"""Plugin runtime: discovery, supervision, wire protocol, routing, KV, logs, events."""
