"""Text-embedding factors: documents scored with a bundled sentence-embedding model,
aggregated point in time per asset and bar."""
