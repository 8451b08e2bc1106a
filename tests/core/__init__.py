"""The core: config, CSV cells, the secrets file, time zones."""
