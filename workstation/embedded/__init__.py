"""moto-backed AWS in-process: the stack from template.yaml, the Lambda seam, executions."""
