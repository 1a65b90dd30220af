"""Using trained models: runtimes for every saved format, prediction on users' images.
Never imports training, tuning or Hydra (a test checks)."""
