"""rulecheck: check an asset allocation unit plan against the detailed plan and the supply contracts."""

__version__ = "0.1.0"
