"""Background work: RQ task functions, the job state machine, publishing job events, the sweeper."""
