"""radimpress_training: what runs inside training jobs and before them.

Data preparation (MIMIC-CXR, Open-i), the JumpStart resolver (build time, SageMaker SDK), the
Hugging Face seq2seq entry point, and the local models that need no download.
"""
