"""The synthetic cohort: ICBM152-based brains with atrophy, WMH and site effects, plus ground truth.

The embedded default dataset for demos and tests; every output is marked synthetic.
"""

from wmhmap.synthetic.cohort import generate_cohort
from wmhmap.synthetic.montage import write_montage

__all__ = ["generate_cohort", "write_montage"]
