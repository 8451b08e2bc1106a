"""The connectors on the vendors' SDKs against the sandbox, pacing, retries; the sandbox's tests."""
