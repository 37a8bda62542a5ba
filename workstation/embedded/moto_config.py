"""How the embedded moto is set up, in one place: its configuration and the account it answers as.

Everything that builds an ARN or an event beside moto (the stack's resources, the S3 event, the
local job backend's jobs and models) uses ``ACCOUNT_ID``, so those ARNs look like the ones the
mock hands out.
"""

from __future__ import annotations

ACCOUNT_ID = "123456789012"  # moto's default account
# Step Functions executes definitions (moto's ASL interpreter); Lambda runs without Docker, so
# the seam (lambda_seam) can run the real handlers in this process.
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
