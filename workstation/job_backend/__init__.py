"""The local SageMaker job backend: training and Batch Transform jobs on this machine."""
