"""Amazon Bedrock as one more model in the comparison: batch inference building blocks.

Standard library and boto3 only (the Lambdas import this package). One module per question:

- ``model_input``: which body format a model id takes (Anthropic Messages, Meta Llama 3, Amazon
  Nova, Amazon Titan Text, or the Converse request) and the request body for one prompt;
- ``model_output``: the generated text and token counts of one response body, per format;
- ``prompt``: the instruction, and the k most similar training pairs as few-shot examples
  (a small BM25 index in pure Python);
- ``batch_files``: the JSON Lines input files (``recordId`` + ``modelInput``), and reading the
  ``.jsonl.out`` outputs and ``manifest.json.out`` back, joined by ``recordId``;
- ``costs``: the price table and the cost of a run from its token counts;
- ``fallback``: per-record ``InvokeModel``/``Converse`` calls for runs below the batch minimum.

docs/bedrock.md describes the formats and the sources each module was checked against.
"""
