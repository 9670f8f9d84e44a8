"""The installed version of agentkeep."""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("agentkeep")
except PackageNotFoundError:  # running from a source tree that was never installed
    VERSION = "0.0.0"
