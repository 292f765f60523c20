"""Proofs of origin: the invisible watermark, C2PA manifests, signing keys and verification."""
