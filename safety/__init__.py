"""Prompt screening: normalisation, policy rules, the classifier and the combined decision."""
