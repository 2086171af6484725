"""Operations: bring up infrastructure, prepare databases and keys, run the Procfile (`shopctl`)."""
