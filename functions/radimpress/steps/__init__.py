"""One module per state of statemachine/pipeline.asl.json, named after the state it serves."""
