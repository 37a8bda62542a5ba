"""Assemble the source dir a SageMaker Hugging Face estimator uploads: train.py + its helpers.

train.py and inference.py import ``deid`` from the installed package locally; a training
container has no ``radimpress`` package, so the one ``deid.py`` is copied beside them here
rather than kept twice in the repository.

    python -m radimpress_training.seq2seq.package build/seq2seq-source
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from radimpress import deid

HERE = Path(__file__).resolve().parent
FILES = ("train.py", "inference.py")


def build_source_dir(target: str | Path) -> Path:
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copy2(HERE / name, target / name)
    shutil.copy2(Path(deid.__file__), target / "deid.py")
    return target


if __name__ == "__main__":
    print(build_source_dir(sys.argv[1] if len(sys.argv) > 1 else "build/seq2seq-source"))
