"""The frame decoding process pool, its priority queue and its frame cache."""
