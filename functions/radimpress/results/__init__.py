"""radimpress.results: Parquet tables, run summaries and the HTML report (docs/contracts.md).

Importing this package loads no pyarrow: the writer imports it only when a file is written.
"""

from radimpress.results.publish import publish_run

__all__ = ["publish_run"]
