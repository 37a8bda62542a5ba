"""The JumpStart containers as a local double: the real images' contracts, a tiny stand-in model.

Without it the local backend runs only ``radimpress-local/<model>`` images, so a JumpStart request
that the real service or container would refuse passes every local test. This double answers for
the AWS Deep Learning Container images JumpStart names (``763104351884.dkr.ecr.<region>...``) and
checks what they check, from the real JumpStart metadata (the SDK's ``specs_v*.json``, by default
``tests/fixtures/jumpstart``; ``AWS_JUMPSTART_SPECS_LOCAL_ROOT_DIR_OVERRIDE`` points elsewhere),
never from the spec under test, so a wrong spec cannot vouch for itself:

- the service: an image that no JumpStart version publishes in the job's region is not found;
  S3 artifacts and images come from the job's region; network isolation on wherever the
  metadata turns it on;
- training (``huggingface-pytorch-training`` running the prepacked ``transfer_learning.py``): the
  image, code channel and model channel belong to one version, the image is that version's for
  the instance family, channels are ``training``/``validation``/``model``/``code``, every
  hyperparameter is one the script declares, of its type and within its range; the output is laid
  out as the prepacked script writes it (weights, ``config.json``, ``code/inference.py``);
- serving with the Hugging Face inference toolkit (``huggingface-pytorch-inference``, 1.x): as
  its ``handler_service`` does, code is imported only from ``<model dir>/code``
  (``SAGEMAKER_PROGRAM``), ``SAGEMAKER_SUBMIT_DIRECTORY`` is never downloaded; JumpStart's
  ``inference.py`` takes ``{"text_inputs", "max_length", ...}`` and answers
  ``{"generated_texts": [...]}``; without it the default handler takes ``{"inputs", "parameters"}``
  and answers ``[{"generated_text"}]``; a body it cannot use is a 400 that fails the line;
- serving with TGI (``huggingface-pytorch-tgi-inference``, 2.x): ``{"inputs", "parameters"}``
  only, 422 otherwise.

The public ``jumpstart-cache-prod-<region>`` bucket does not exist in moto: when a request names
one of its artifacts the double writes a stand-in there (``seed_cache``), laid out as the real
artifact is. Generation is deterministic and needs no weights: the pre-trained stand-in answers
with the first sentence of the findings, the fine-tuned one with the local ``restate`` model
trained on the training channel.

One module per question: ``metadata`` (the JumpStart versions, images, scripts and artifacts),
``artifacts`` (the stand-ins written to ``jumpstart-cache-prod-<region>``), ``requests`` (what
the service refuses at create time), ``training`` (the training container's checks), ``standin``
(the model that replaces FLAN-T5), ``serving`` (the model servers and their bodies) and
``container`` (the ``Container`` the backend's ``CONTAINER_FINDERS`` finds by image URI).
"""

from radimpress_workstation.job_backend.jumpstart.container import (
    JumpStartContainer,
    find_jumpstart_container,
)

__all__ = ["JumpStartContainer", "find_jumpstart_container"]
