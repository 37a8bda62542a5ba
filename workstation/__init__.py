"""The workstation side of radimpress: the embedded runtime, the local job backend, the CLI.

Never imported by the Lambda package (functions/radimpress) or by training/.
"""
