"""Expected values of wayfarer_models::stats::mann_whitney_binned, from SciPy.

Run in a throwaway venv with scipy installed; the unit test
`mann_whitney_matches_scipy` holds the printed numbers.
"""
from scipy.stats import mannwhitneyu

# Counts per ordered bin; a value's bin index stands for the value (ties within a bin).
a_counts = [3, 0, 5, 2, 7, 1]
b_counts = [1, 4, 2, 6, 0, 3]
a = [i for i, c in enumerate(a_counts) for _ in range(c)]
b = [i for i, c in enumerate(b_counts) for _ in range(c)]
r = mannwhitneyu(a, b, use_continuity=False, method="asymptotic", alternative="two-sided")
print(r.statistic, r.pvalue, r.statistic / (len(a) * len(b)))
