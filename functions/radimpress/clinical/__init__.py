"""Clinical agreement beyond ROUGE: CheXpert observation labels and per-report agreement.

Standard library only, so it runs inside the Score Lambda.
"""
