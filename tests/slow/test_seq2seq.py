"""The seq2seq entry point trains a tiny T5 offline, and the saved model dir serves requests."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from radimpress_training.seq2seq import inference, train
from radimpress_training.seq2seq.package import build_source_dir

PAIRS = [
    ("Lungs clear. Heart normal.", "Normal chest."),
    ("Right effusion. Heart normal.", "Right effusion."),
    ("Left effusion. Lungs clear.", "Left effusion."),
    ("Heart enlarged since XXXX.", "Cardiomegaly."),
    ("Lungs clear. No effusion.", "Normal chest."),
    ("Heart enlarged. Lungs clear.", "Cardiomegaly."),
]


@pytest.fixture
def tiny_checkpoint(tmp_path: Path) -> Iterator[Path]:
    """A 2-layer T5 with the byte-level ByT5 tokenizer: built here, nothing downloaded."""
    import torch
    from transformers import ByT5Tokenizer, T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    # A model this small only loses to thread hand-offs on a shared 2-core machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    config = T5Config(
        vocab_size=384,
        d_model=32,
        d_ff=64,
        d_kv=8,
        num_heads=4,
        num_layers=1,
        num_decoder_layers=1,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    path = tmp_path / "tiny-t5"
    T5ForConditionalGeneration(config).save_pretrained(path)
    ByT5Tokenizer().save_pretrained(path)
    yield path
    torch.set_num_threads(threads)


def test_train_loss_goes_down_and_the_model_dir_serves(tiny_checkpoint, tmp_path, monkeypatch):
    data = tmp_path / "train"
    data.mkdir()
    (data / "train.jsonl").write_text(
        "".join(
            json.dumps({"study_id": str(i), "findings": f, "impression": i_}) + "\n"
            for i, (f, i_) in enumerate(PAIRS)
        )
    )
    (data / "template.json").write_text(json.dumps({"prompt": "{findings}", "completion": "x"}))
    # The SageMaker way: channels and dirs from SM_* variables, hyperparameters as arguments.
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(data))
    monkeypatch.setenv("SM_CHANNEL_MODEL", str(tiny_checkpoint))
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "model"))
    monkeypatch.setenv("SM_OUTPUT_DATA_DIR", str(tmp_path / "output"))
    assert (
        train.main(
            [
                "--max_steps",
                "40",
                "--learning_rate",
                "0.005",
                "--per_device_train_batch_size",
                "6",
                "--logging_steps",
                "5",
                "--use_cpu",
                "true",
                "--num_beams",
                "1",
                "--max_target_length",
                "24",
            ]
        )
        == 0
    )

    metrics = json.loads((tmp_path / "output" / "metrics.json").read_text())
    assert metrics["train_pairs"] == 6 and metrics["validation_pairs"] == 0
    assert metrics["last_logged_loss"] < 0.8 * metrics["first_logged_loss"]

    model_dir = tmp_path / "model"
    for name in ("config.json", "radimpress-seq2seq.json", "code/inference.py", "code/deid.py"):
        assert (model_dir / name).is_file(), name
    assert json.loads((model_dir / "radimpress-seq2seq.json").read_text())["prompt_template"] == (
        "{findings}"
    )
    loaded = inference.model_fn(str(model_dir))
    line = {
        "inputs": {"text_inputs": "Heart enlarged since ___.", "max_length": 20, "num_beams": 1}
    }
    out = inference.predict_fn(line, loaded)
    assert isinstance(out["generated_texts"], list) and len(out["generated_texts"]) == 1
    assert isinstance(out["generated_texts"][0], str)
    both = inference.predict_fn({"text_inputs": ["Lungs clear.", "Right effusion."]}, loaded)
    assert len(both["generated_texts"]) == 2
    with pytest.raises(ValueError, match="text_inputs"):
        inference.predict_fn({"inputs": {"nothing": 1}}, loaded)


def test_bad_inputs_are_named(tmp_path: Path, monkeypatch) -> None:
    for name in ("SM_CHANNEL_TRAIN", "SM_CHANNEL_MODEL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit):
        train.parse_args(["--model-name-or-path", "x"])  # no training data
    (tmp_path / "a.jsonl").write_text('{"findings": "x"}\n')
    with pytest.raises(ValueError, match=r"a.jsonl: line 1: field 'impression'"):
        train.read_pairs(tmp_path)
    args = train.parse_args(
        ["--train-dir", str(tmp_path), "--model_name_or_path=m", "--prompt", "no placeholder"]
    )
    assert args.model_name_or_path == "m"
    with pytest.raises(ValueError, match=r"\{findings\}"):
        train.prompt_template(args)


def test_source_dir_for_sagemaker_is_self_contained(tmp_path: Path, monkeypatch) -> None:
    source = build_source_dir(tmp_path / "src")
    assert sorted(p.name for p in source.iterdir()) == ["deid.py", "inference.py", "train.py"]
    # Importable without the radimpress package, as in the training container.
    monkeypatch.setitem(sys.modules, "radimpress", None)
    monkeypatch.syspath_prepend(str(source))
    for name in ("deid", "train", "inference"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import train as standalone  # type: ignore[import-not-found]

    assert standalone.deid.normalize("x-XXXX") == "x-___"
