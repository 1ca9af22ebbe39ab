"""Session-wide test settings."""

import os

# Tests exercise the decompositions themselves, not the on-disk cache of their results
# (tests/test_decompose_cache.py turns it on in a temporary directory).
os.environ["HLSGEN_DECOMPOSE_CACHE"] = "0"
