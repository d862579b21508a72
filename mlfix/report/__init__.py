"""Output formats: each module turns engine results into one format, nothing else."""
