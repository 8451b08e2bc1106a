"""mcm-sync: the engine, state store and command line of the regional-alliance tool."""

__version__ = "0.1.0"
