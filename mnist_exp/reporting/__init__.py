"""Per-run evaluation report: pictures and tables a person reads, plus TensorBoard records."""
