"""The policy engine: pure evaluation of a policy against the configuration model."""
