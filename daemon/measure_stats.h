/*
 * The statistics of experiments (issue 19): a proportion's 95 % Wilson score interval, and the
 * difference of two proportions with a two-sided p-value from the two-proportion z-test
 * (pooled), or Fisher's exact test when an expected cell count of the 2x2 table is below 5.
 */
#ifndef NURTURED_MEASURE_STATS_H
#define NURTURED_MEASURE_STATS_H

/* z for a two-sided 95 % interval. */
#define MEASURE_Z95 1.959963984540054

/* The Wilson score interval of X successes in N trials (N 0: [0, 1]). */
void measure_wilson(long x, long n, double z, double *lo, double *hi);
/* Two-sided p of the pooled two-proportion z-test of X1/N1 against X2/N2 (1 if undefined). */
double measure_ztest(long x1, long n1, long x2, long n2);
/* Two-sided p of Fisher's exact test of the table [[A, B], [C, D]] (as SciPy computes it). */
double measure_fisher(long a, long b, long c, long d);

struct measure_cmp {
	double diff; /* X1/N1 - X2/N2 */
	double p;
	const char *test; /* "two-proportion z-test" or "Fisher's exact test" */
};
/* Compares X1/N1 (an arm) with X2/N2 (the control), choosing the test as above. */
void measure_compare(long x1, long n1, long x2, long n2, struct measure_cmp *out);

#endif
