#include "measure_stats.h"

#include <math.h>

void
measure_wilson(long x, long n, double z, double *lo, double *hi)
{
	if (n <= 0) {
		*lo = 0;
		*hi = 1;
		return;
	}
	double p = (double)x / (double)n, z2 = z * z, den = 1 + z2 / (double)n;
	double mid = (p + z2 / (2.0 * (double)n)) / den;
	double half = z * sqrt(p * (1 - p) / (double)n + z2 / (4.0 * (double)n * (double)n)) / den;
	*lo = fmax(0, mid - half);
	*hi = fmin(1, mid + half);
}

double
measure_ztest(long x1, long n1, long x2, long n2)
{
	if (n1 <= 0 || n2 <= 0)
		return 1;
	double p1 = (double)x1 / (double)n1, p2 = (double)x2 / (double)n2;
	double pool = (double)(x1 + x2) / (double)(n1 + n2);
	double se = sqrt(pool * (1 - pool) * (1.0 / (double)n1 + 1.0 / (double)n2));
	if (se == 0)
		return 1;
	return erfc(fabs(p1 - p2) / se / sqrt(2.0));
}

/* log of the hypergeometric probability of the table with A in its first cell. */
static double
measure_hyper_log(long a, long r1, long r2, long c1)
{
	long n = r1 + r2, b = r1 - a, c = c1 - a, d = r2 - c;
	return lgamma((double)r1 + 1) + lgamma((double)r2 + 1) + lgamma((double)c1 + 1) +
	       lgamma((double)(n - c1) + 1) - lgamma((double)n + 1) - lgamma((double)a + 1) -
	       lgamma((double)b + 1) - lgamma((double)c + 1) - lgamma((double)d + 1);
}

double
measure_fisher(long a, long b, long c, long d)
{
	long r1 = a + b, r2 = c + d, c1 = a + c;
	long lo = c1 - r2 > 0 ? c1 - r2 : 0, hi = c1 < r1 ? c1 : r1;
	double obs, p = 0;

	if (r1 == 0 || r2 == 0 || c1 == 0 || c1 == r1 + r2)
		return 1;
	obs = measure_hyper_log(a, r1, r2, c1);
	/* Every table at most as likely as the one observed (a relative tolerance, as R and
	 * SciPy use, so that ties are not lost to rounding). */
	for (long k = lo; k <= hi; k++) {
		double l = measure_hyper_log(k, r1, r2, c1);
		if (l <= obs + 1e-7)
			p += exp(l);
	}
	return p > 1 ? 1 : p;
}

void
measure_compare(long x1, long n1, long x2, long n2, struct measure_cmp *out)
{
	long n = n1 + n2, x = x1 + x2;
	int small = 0;

	out->diff = (n1 > 0 ? (double)x1 / (double)n1 : 0) - (n2 > 0 ? (double)x2 / (double)n2 : 0);
	/* The expected counts of the 2x2 table under no difference. */
	if (n > 0) {
		double e[4] = {(double)n1 * x / n, (double)n1 * (n - x) / n, (double)n2 * x / n,
			       (double)n2 * (n - x) / n};
		for (int i = 0; i < 4; i++)
			small |= e[i] < 5;
	}
	if (small) {
		out->test = "Fisher's exact test";
		out->p = measure_fisher(x1, n1 - x1, x2, n2 - x2);
	} else {
		out->test = "two-proportion z-test";
		out->p = measure_ztest(x1, n1, x2, n2);
	}
}
