"""radimpress.results (see docs/contracts.md)."""
