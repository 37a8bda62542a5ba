"""Column lists of the results tables, shared by the Parquet writer, the Glue tables and tests.

Names are lower case because the Glue catalog lower-cases column names and Athena matches Parquet
columns by name: ``rougeL`` in a file would be ``rougel`` in the table. Bump ``SCHEMA_VERSION``
whenever a column changes meaning or type; new columns go at the end so old files stay readable
(Athena and the local DuckDB views match columns by name and read a missing one as null).

Version 2 added, at the end of both tables, who produced each row (model role, model name and
version, SageMaker model, training job and training run) and clinical agreement (positive-
observation precision/recall/F1 with the missed and invented observations; the runs table holds the
means and bootstrap confidence intervals). One scores object per run holds every model's rows.
Later, still version 2 (new columns read as null from older files): ``generator`` and
``train_overlap`` at the end of the model columns, then ``model_package_version`` and
``model_package_arn`` (the Model Registry version a fine-tuned or candidate model stands for).

Version 3 moved the report text (``findings``, ``reference``, ``generated``) out of ``scores`` into
its own table ``texts`` (``results/texts/``), keyed by run, model and study: S3 and IAM grant
objects, not columns, so a role that may read the scores (QuickSight's) could read every
report's text while its data set left the columns out. The scores table keeps ids, model identity,
ROUGE and clinical columns; Glue no longer lists the three text columns there, and the local DuckDB
views read the text of version 1-2 scores objects as rows of ``texts`` (workstation/sql.py).
"""

from __future__ import annotations

SCHEMA_VERSION = 3

# Model roles, in the order of the A/B direction every comparison uses: A is the model that comes
# first (fine-tuned before candidate before pre-trained, then by model name, then by label), so a
# positive "A - B" means the trained model did better. The named queries spell the same order.
ROLES: tuple[str, ...] = ("fine-tuned", "candidate", "pre-trained")

# Who produced a row (schema version 2; empty strings, or null for the version, in rows that
# predate the field).
MODEL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("model_role", "string"),
    ("model_name", "string"),
    ("model_version", "string"),
    ("sagemaker_model", "string"),
    ("training_job", "string"),
    ("training_run_id", "string"),
    # What wrote the impressions: "sagemaker" (a SageMaker job, in the cloud), "local:<model>"
    # (a local model), or "double:<spec> (stand-in: <what>)" when the JumpStart container double
    # answered for a cloud model: then the numbers are the stand-in's, not the named model's.
    ("generator", "string"),
    # How the scored file overlaps the training file ("N of M studies overlap the training file
    # (same study_id a, same findings text b); ..."), "" when it does not or nobody checked (the
    # cloud). Same findings text is often a templated normal report, not the same study.
    ("train_overlap", "string"),
    # The model package version (and its ARN) the model stands for: the registry holds its
    # training lineage, the gate's figures and its approval. Null / "" for a model without one
    # (pre-trained, or rows written before the column).
    ("model_package_version", "int"),
    ("model_package_arn", "string"),
)
# Per-report clinical agreement (radimpress.clinical); null when the report has no reference.
# Observation lists are "; "-joined strings, not arrays, so QuickSight can read them too.
CLINICAL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("clinical_precision", "double"),
    ("clinical_recall", "double"),
    ("clinical_f1", "double"),
    ("clinical_missed", "string"),
    ("clinical_invented", "string"),
    ("clinical_missed_count", "int"),
    ("clinical_invented_count", "int"),
)
LIST_SEPARATOR = "; "
# The F1 columns that get a mean and a bootstrap interval per model in the runs table.
F1_COLUMNS: tuple[str, ...] = ("rouge1_f1", "rouge2_f1", "rougel_f1", "rougelsum_f1", "clinical_f1")
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0

# Score-row keys (docs/contracts.md) and the column prefix each one becomes.
METRICS: tuple[tuple[str, str], ...] = (
    ("rouge1", "rouge1"),
    ("rouge2", "rouge2"),
    ("rougeL", "rougel"),
    ("rougeLsum", "rougelsum"),
)
PARTS: tuple[tuple[str, str], ...] = (
    ("precision", "precision"),
    ("recall", "recall"),
    ("fmeasure", "f1"),
)

# (name, Glue/Athena type). The partition column run_date lives in the path, not in the files.
SCORE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("schema_version", "int"),
    ("run_id", "string"),
    ("dataset", "string"),
    ("model", "string"),
    ("study_id", "string"),
    *((f"{col}_{part}", "double") for _, col in METRICS for _, part in PARTS),
    *MODEL_COLUMNS,
    *CLINICAL_COLUMNS,
)

# The report text of each scores row (schema version 3): the same (run_id, model, study_id) key,
# one object per run under results/texts/, written and committed with the scores object. Only
# the roles that may read patient text read this folder; QuickSight's role does not.
REPORT_TEXT: tuple[str, ...] = ("findings", "reference", "generated")
TEXT_KEY: tuple[str, ...] = ("run_id", "dataset", "model", "study_id")
TEXT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("schema_version", "int"),
    *((name, "string") for name in TEXT_KEY),
    *((name, "string") for name in REPORT_TEXT),
)

# One row per (run, model): the run's counts and the model's mean F1 per metric.
RUN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("schema_version", "int"),
    ("run_id", "string"),
    ("dataset", "string"),
    ("model", "string"),
    ("execution", "string"),
    ("source_key", "string"),
    ("started_at", "timestamp"),
    ("published_at", "timestamp"),
    ("records", "bigint"),
    ("rejected", "bigint"),
    ("reports", "bigint"),
    ("scored", "bigint"),
    *((f"{col}_f1", "double") for _, col in METRICS),
    *MODEL_COLUMNS,
    ("clinical_precision", "double"),
    ("clinical_recall", "double"),
    ("clinical_f1", "double"),
    ("missed_reports", "bigint"),  # scored reports whose generation misses a positive finding
    *((f"{col}_ci_{end}", "double") for col in F1_COLUMNS for end in ("low", "high")),
    # A training run's promotion gate (its rows are the held-out studies' scores): the decision
    # on the new package version and why (figures only, never report text); null otherwise.
    ("promotion_status", "string"),
    ("promotion_reason", "string"),
)

# One row per (run, model, CheXpert observation): micro counts over the studies whose reference and
# generated impression are both labelled (non-blank), positive = positive or uncertain (as the
# clinical F1), and P/R/F1 from them, null ("n/a") without a denominator
# (radimpress.clinical.per_observation). The "No Finding" row is the normal/abnormal confusion
# matrix: TP = reference normal, generated normal; FN = normal, abnormal; FP = abnormal, normal;
# TN = abnormal, abnormal.
OBSERVATION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("schema_version", "int"),
    ("run_id", "string"),
    ("dataset", "string"),
    ("model", "string"),
    *MODEL_COLUMNS,
    ("observation", "string"),
    ("observation_order", "int"),  # CheXpert column order, 0 = No Finding
    ("studies", "bigint"),  # scored studies both texts label
    ("unlabelled", "bigint"),  # scored studies left out: a blank reference or generation
    ("true_positive", "bigint"),
    ("false_positive", "bigint"),
    ("false_negative", "bigint"),
    ("true_negative", "bigint"),
    ("reference_positive", "bigint"),
    ("generated_positive", "bigint"),
    ("precision", "double"),
    ("recall", "double"),
    ("f1", "double"),
)

# Run lineage (radimpress.lineage): one row per (run, SageMaker job), a run without a job one row
# with null job columns. What went in (the uploaded file's key, version, size, SHA-256 and record
# counts), the settings as JSON (model spec, instance types, epochs, generation parameters), the
# code version, start and end, each job's instances, start, end and seconds, and the estimated
# cost (null for local runs and unpriced jobs). A training run has its own rows; an inference
# run names the training runs of its fine-tuned models (``training_run_ids``, "; "-joined),
# the same ids as the scores and runs tables' ``training_run_id``: join on ``run_id``.
LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("schema_version", "int"),
    ("run_id", "string"),
    ("route", "string"),  # train | infer
    ("runtime", "string"),  # aws | local
    ("dataset", "string"),
    ("code_version", "string"),
    ("started_at", "timestamp"),
    ("ended_at", "timestamp"),
    ("run_seconds", "double"),
    ("input_file", "string"),
    ("input_version_id", "string"),
    ("input_bytes", "bigint"),
    ("input_sha256", "string"),
    ("input_records", "bigint"),  # accepted
    ("input_rejected", "bigint"),
    ("settings", "string"),  # JSON
    ("training_run_ids", "string"),
    ("job_kind", "string"),  # training | transform
    ("job_name", "string"),
    ("job_model", "string"),  # the SageMaker model a transform job served
    ("instance_type", "string"),
    ("instance_count", "int"),
    ("job_started_at", "timestamp"),
    ("job_ended_at", "timestamp"),
    ("job_seconds", "double"),
    ("billable_seconds", "double"),  # DescribeTrainingJob's BillableTimeInSeconds
    ("job_cost_usd", "double"),
    ("hyperparameters", "string"),  # JSON, a training job's HyperParameters as SageMaker has them
    ("run_cost_usd", "double"),
    ("prices_as_of", "string"),  # the price table's date (radimpress.pricing)
)

PARTITION_COLUMNS: tuple[tuple[str, str], ...] = (("run_date", "string"),)

# Glue table names (template.yaml) that the named queries use, locally and in Athena.
SCORES_TABLE = "scores"
TEXTS_TABLE = "texts"
RUNS_TABLE = "runs"
OBSERVATIONS_TABLE = "observations"
LINEAGE_TABLE = "lineage"
