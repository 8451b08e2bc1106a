"""The ground of the app: the exception tree and exit codes, the config, the services it builds."""
