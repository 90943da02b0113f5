# The machines behind the SFT and RL runs, in one log beside the others (names from artifacts_common.smk).
MODEL_DIRS, OPTIONAL_MODEL_DIRS = machine_dirs()


rule machine_records:
    """The machine.json of every SFT base and RL run in one log (rredcot.pipeline.machine.collect_machines):
    the report's machines table reads it, and it ships with the other logs, so a clone without the models
    lists the same machines. Training-ablation runs outside the default target are listed where they exist."""
    input:
        models=MODEL_DIRS,
    output:
        MACHINE_LOG,
    params:
        optional=OPTIONAL_MODEL_DIRS,
    log:
        f"{RESULTS}/logs/machine_records.log",
    localrule: True
    run:
        from rredcot.pipeline.machine import collect_machines

        collect_machines([*input.models, *(p for p in params.optional if os.path.isdir(p))], output[0], log[0])
