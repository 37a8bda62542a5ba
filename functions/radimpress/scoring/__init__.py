"""radimpress.scoring (see docs/contracts.md)."""
