"""System monitoring: the sampler, its in-memory history and the resources API."""
